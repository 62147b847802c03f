#!/usr/bin/env bash
# Runs pdistill on a Cloud TPU VM slice: create it, copy this checkout to every worker,
# run the same command on all workers (--worker=all), delete it.
#
#   launch/tpu_pod.sh [--dry-run] STEP [-- PDISTILL_ARGS...]
#
#   STEP  create | copy | run | delete | all (= create, copy, run, delete)
#   PDISTILL_ARGS  what follows `python -m pdistill.main` on each worker (run and all),
#                  e.g. --config=configs/pcfg_bert.py:teacher --workdir=/mnt/shared/runs/bert
#
# Settings (environment variables, with defaults):
#   TPU_NAME=pdistill  ZONE=us-central2-b  ACCELERATOR_TYPE=v4-32
#   TPU_VERSION=tpu-ubuntu2204-base  PROJECT=(gcloud's default)  REMOTE_DIR=pdistill
#
# --dry-run prints every command (shell-quoted, one per line) instead of running it.
# The workdir must be a path that every worker sees (a shared filesystem such as a
# Filestore/NFS mount or a gcsfuse-mounted bucket): checkpoints are written by all hosts
# together, metrics by worker 0 only.
set -euo pipefail

usage() {
  sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then
  DRY_RUN=1
  shift
fi
STEP="${1:-}"
[[ -n "$STEP" ]] || usage
shift
if [[ "${1:-}" == "--" ]]; then
  shift
fi
ARGS=("$@")

TPU_NAME="${TPU_NAME:-pdistill}"
ZONE="${ZONE:-us-central2-b}"
ACCELERATOR_TYPE="${ACCELERATOR_TYPE:-v4-32}"
TPU_VERSION="${TPU_VERSION:-tpu-ubuntu2204-base}"
REMOTE_DIR="${REMOTE_DIR:-pdistill}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
ARCHIVE="/tmp/${TPU_NAME}-code.tar.gz"
GCLOUD=(gcloud compute tpus tpu-vm)
COMMON=(--zone="$ZONE")
if [[ -n "${PROJECT:-}" ]]; then
  COMMON+=(--project="$PROJECT")
fi

source "$(dirname "$0")/shell_quote.sh"

run_cmd() {
  if [[ "$DRY_RUN" == 1 ]]; then
    quote "$@"
  else
    "$@"
  fi
}

create() {
  run_cmd "${GCLOUD[@]}" create "$TPU_NAME" "${COMMON[@]}" \
    --accelerator-type="$ACCELERATOR_TYPE" --version="$TPU_VERSION"
}

copy() {
  # The checkout as it is (tracked files, uncommitted edits included; not runs/ or caches).
  local tree
  tree="$(git -C "$REPO" stash create)"
  run_cmd git -C "$REPO" archive --format=tar.gz -o "$ARCHIVE" "${tree:-HEAD}"
  run_cmd "${GCLOUD[@]}" scp "$ARCHIVE" "$TPU_NAME:code.tar.gz" "${COMMON[@]}" --worker=all
  run_cmd "${GCLOUD[@]}" ssh "$TPU_NAME" "${COMMON[@]}" --worker=all \
    --command="mkdir -p $REMOTE_DIR && tar -xzf code.tar.gz -C $REMOTE_DIR && pip install -q -U 'jax[tpu]' && pip install -q -e $REMOTE_DIR"
}

run() {
  local args=""
  if [[ ${#ARGS[@]} -gt 0 ]]; then
    args=" $(quote "${ARGS[@]}")"
  fi
  # The same command on every worker; they find each other through jax.distributed.
  run_cmd "${GCLOUD[@]}" ssh "$TPU_NAME" "${COMMON[@]}" --worker=all \
    --command="cd $REMOTE_DIR && python -m pdistill.main --multihost$args"
}

delete() {
  run_cmd "${GCLOUD[@]}" delete "$TPU_NAME" "${COMMON[@]}" --quiet
}

case "$STEP" in
  create) create ;;
  copy) copy ;;
  run) run ;;
  delete) delete ;;
  all)
    create
    status=0
    copy && run || status=$?
    delete  # also after a failed run: an idle slice still costs money
    exit "$status" ;;
  *) echo "unknown step '$STEP'" >&2; usage ;;
esac
