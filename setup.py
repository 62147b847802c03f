from setuptools import find_packages, setup

setup(
    name='pdistill',
    version='0.1.0',
    description='Progressive distillation and curriculum extraction in JAX/Flax '
                '(Panigrahi et al., ICLR 2025; Gupta & Karmalkar, 2025).',
    packages=find_packages(include=['pdistill', 'pdistill.*']),
    package_data={'pdistill': ['grammars/*.json']},
    python_requires='>=3.10',
    install_requires=[
        'jax>=0.4.35', 'flax>=0.10', 'optax>=0.2.3', 'orbax-checkpoint>=0.10',
        'numpy>=1.26', 'ml-collections>=0.1.1', 'absl-py>=2.0', 'matplotlib>=3.8',
        'tensorflow-datasets>=4.9', 'array-record>=0.5',
    ],
    extras_require={
        'test': ['pytest>=8', 'tensorboard>=2.15', 'nbclient>=0.10', 'nbformat>=5.10',
                 'ipykernel>=6.29'],
        'tpu': ['jax[tpu]'],  # Cloud TPU VMs (launch/tpu_pod.sh installs it)
        'cuda': ['jax[cuda12]'],  # NVIDIA GPUs (launch/slurm.sh)
    },
)
