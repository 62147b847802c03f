"""pdistill: progressive distillation and curriculum extraction in JAX/Flax.

The experiment configs stay in the checkout's top-level ``configs/`` and are installed with
the package as ``pdistill.configs``, so a wheel runs ``python -m pdistill.main`` on its own.
The dependency floors are tested: .ci/run installs ``.ci/minimum-versions.txt`` into a
separate venv and runs the default smoke pipeline there.
"""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'pdistill', '__init__.py')) as f:
  VERSION = re.search(r"__version__ = '([^']+)'", f.read()).group(1)
with open(os.path.join(HERE, 'README.md'), encoding='utf-8') as f:
  README = f.read()

setup(
    name='pdistill',
    version=VERSION,
    description='Progressive distillation and curriculum extraction in JAX/Flax '
                '(Panigrahi et al., ICLR 2025; Gupta & Karmalkar, 2025).',
    long_description=README,
    long_description_content_type='text/markdown',
    author='The pdistill authors',
    url='https://github.com/pdistill/pdistill',  # the project's repository (see README)
    license='Apache-2.0',
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    packages=find_packages(include=['pdistill', 'pdistill.*']) + ['pdistill.configs'],
    package_dir={'pdistill.configs': 'configs'},
    package_data={'pdistill.data': ['grammars/*.json']},
    python_requires='>=3.10',
    install_requires=[
        # Floors tested in CI (.ci/minimum-versions.txt).  orbax-checkpoint up to 0.11.12
        # reserves the item name 'metrics' that trajectories use; 0.11.13 needs jax 0.5.
        'jax>=0.5.0', 'flax>=0.10.2', 'optax>=0.2.4', 'orbax-checkpoint>=0.11.13',
        'numpy>=1.26', 'ml-collections>=1.0', 'absl-py>=2.0', 'matplotlib>=3.8',
        'tensorflow-datasets>=4.9.7', 'array-record>=0.5',
    ],
    extras_require={
        'test': ['pytest>=8', 'pytest-xdist>=3.5', 'tensorboard>=2.15', 'nbclient>=0.10',
                 'nbformat>=5.10', 'ipykernel>=6.29', 'import-linter>=2.1'],
        'tpu': ['jax[tpu]'],  # Cloud TPU VMs (launch/tpu_pod.sh installs it)
        'cuda': ['jax[cuda12]'],  # NVIDIA GPUs (launch/slurm.sh)
    },
)
