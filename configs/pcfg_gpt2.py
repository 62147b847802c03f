r"""GPT-2-style next-token prediction on the cfg3 PCFGs, with trajectory distillation.

``--config=configs/pcfg_gpt2.py:METHOD[,SIZE]``, METHOD as in configs/parity_mlp.py.

Targets can be restricted to the right-boundary tokens of the spans of depth-D non-terminals
(``data.boundary_depth=D``; 6, the default, counts every token).

  full   cfg3b; teacher 4 layers x 32 heads, width 256; student 4 layers x 8 heads, width 64;
         AdamW lr 5e-3, betas (0.9, 0.95), wd 0, 6% warmup + cosine, batch 512, 2,000 steps,
         teacher checkpoint every 200 steps, students at temperature 0 on the multiplier-1
         rule.  Needs an accelerator.  Accelerator time: not measured yet (no accelerator has
         been lent; its step costs about what pcfg_bert.py's does).
  smoke  2 layers of width 32 / 16, batch 8, 200 steps: about a minute on a CPU.

  python -m pdistill.main --config=configs/pcfg_gpt2.py:smoke --workdir=/tmp/pcfg_gpt2
"""

from pdistill.config import builders as cb

SIZES = ('full', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, SIZES)
  return cb.pcfg_experiment(options, dict(task='pcfg_next_token', boundary_depth=6), 'gpt2')
