#!/usr/bin/env bash
# Submits launch/slurm_gpu.sbatch: one pdistill run over NODES nodes x GPUS GPUs.
#
#   launch/slurm.sh [--dry-run] [--nodes=N] [--gpus-per-node=G] [--time=HH:MM:SS]
#                   [--partition=P] [--account=A] -- PDISTILL_ARGS...
#
# PDISTILL_ARGS are those of `python -m pdistill.main`, e.g.
#   --config=configs/pcfg_bert.py:teacher --workdir=/shared/runs/bert_teacher
# --dry-run prints the sbatch command and the command every task would run, and submits
# nothing.  Defaults: 1 node, 8 GPUs per node, 24 h.
set -euo pipefail

usage() {
  sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

source "$(dirname "$0")/shell_quote.sh"

DRY_RUN=0 NODES=1 GPUS=8 TIME=24:00:00 EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --nodes=*) NODES="${1#*=}" ;;
    --gpus-per-node=*) GPUS="${1#*=}" ;;
    --time=*) TIME="${1#*=}" ;;
    --partition=*|--account=*) EXTRA+=("$1") ;;
    --) shift; break ;;
    *) echo "unknown option '$1' (pdistill arguments go after --)" >&2; usage ;;
  esac
  shift
done
[[ $# -gt 0 ]] || { echo 'missing pdistill arguments after --' >&2; usage; }
[[ "$NODES" =~ ^[1-9][0-9]*$ && "$GPUS" =~ ^[1-9][0-9]*$ ]] || {
  echo "--nodes and --gpus-per-node must be positive integers (got $NODES, $GPUS)" >&2; exit 2; }

HERE="$(cd "$(dirname "$0")" && pwd)"
SBATCH=(sbatch --nodes="$NODES" --ntasks-per-node="$GPUS" --gpus-per-node="$GPUS"
        --time="$TIME" "${EXTRA[@]}" "$HERE/slurm_gpu.sbatch" "$@")
if [[ "$DRY_RUN" == 1 ]]; then
  quote "${SBATCH[@]}"
  echo "# then each of the $((NODES * GPUS)) tasks runs:"
  PDISTILL_DRY_RUN=1 bash "$HERE/slurm_gpu.sbatch" "$@"
  exit 0
fi
cd "$HERE/.."  # the job's SLURM_SUBMIT_DIR: the checkout
"${SBATCH[@]}"
