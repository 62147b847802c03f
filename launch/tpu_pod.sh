#!/usr/bin/env bash
# Runs pdistill on a Cloud TPU VM slice: create it, copy this checkout to every worker,
# start the same command on all workers (--worker=all) detached, wait for it, delete it.
#
#   launch/tpu_pod.sh [--dry-run] STEP [-- PDISTILL_ARGS...]
#
#   STEP  create | copy | run | status | logs | wait | delete
#         | all (= create, copy, run, wait, delete)
#     run     starts the job on every worker detached (launch/detach.sh): a dropped SSH
#             connection does not stop it; output in REMOTE_DIR/pdistill_run.log
#     status  each worker: running, or finished with its exit status
#     logs    the last LOG_LINES lines of each worker's log
#     wait    polls status every POLL_S seconds until no worker is running; fails if the
#             connection does (the job runs on; `all` then leaves the slice up)
#     delete  refuses while a worker is still running the job (FORCE=1 deletes anyway)
#   PDISTILL_ARGS  what follows `python -m pdistill.main` on each worker (run and all),
#                  e.g. --config=configs/pcfg_bert.py:teacher --workdir=/mnt/shared/runs/bert
#
# Settings (environment variables, with defaults):
#   TPU_NAME=pdistill  ZONE=us-central2-b  ACCELERATOR_TYPE=v4-32
#   TPU_VERSION=tpu-ubuntu2204-base  PROJECT=(gcloud's default)  REMOTE_DIR=pdistill
#   POLL_S=60  LOG_LINES=20  FORCE=0
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
POLL_S="${POLL_S:-60}"
LOG_LINES="${LOG_LINES:-20}"
FORCE="${FORCE:-0}"
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
    --command="cd $REMOTE_DIR && launch/detach.sh python -m pdistill.main --multihost$args"
}

# One line per worker: "<host>: running" or "<host>: finished, exit N".
status() {
  run_cmd "${GCLOUD[@]}" ssh "$TPU_NAME" "${COMMON[@]}" --worker=all \
    --command="cd $REMOTE_DIR && if [ -f pdistill_run.rc ]; then echo \"\$(hostname): finished, exit \$(cat pdistill_run.rc)\"; elif pgrep -f 'pdistill[.]main' > /dev/null; then echo \"\$(hostname): running\"; else echo \"\$(hostname): not running, no exit status (killed?)\"; fi"
}

logs() {
  run_cmd "${GCLOUD[@]}" ssh "$TPU_NAME" "${COMMON[@]}" --worker=all \
    --command="tail -n $LOG_LINES $REMOTE_DIR/pdistill_run.log"
}

wait_for_job() {
  local report
  while true; do
    report="$(status)" || { echo "status failed: the job runs on; check again with 'status'" >&2; return 1; }
    echo "$report"
    if [[ "$DRY_RUN" == 1 ]] || ! grep -q ': running' <<< "$report"; then
      ! grep -q 'exit [1-9]' <<< "$report"
      return
    fi
    sleep "$POLL_S"
  done
}

delete() {
  local report
  if [[ "$FORCE" != 1 ]]; then
    report="$(status)" || { echo "cannot check the slice's workers; not deleting (FORCE=1 to delete anyway)" >&2; return 1; }
    if [[ "$DRY_RUN" == 1 ]]; then
      echo "$report"
    elif grep -q ': running' <<< "$report"; then
      echo "$report" >&2
      echo "a worker is still running the job: not deleting (wait, or FORCE=1)" >&2
      return 1
    fi
  fi
  run_cmd "${GCLOUD[@]}" delete "$TPU_NAME" "${COMMON[@]}" --quiet
}

case "$STEP" in
  create) create ;;
  copy) copy ;;
  run) run ;;
  status) status ;;
  logs) logs ;;
  wait) wait_for_job ;;
  delete) delete ;;
  all)
    create
    job=0
    copy && run || job=$?
    if [[ "$job" == 0 ]]; then
      # A dropped connection while waiting leaves the job and the slice running.
      wait_for_job || { echo "not deleting $TPU_NAME: delete it when the job is done" >&2; exit 1; }
    fi
    delete  # also after a failed copy or start (it checks that nothing is running)
    exit "$job" ;;
  *) echo "unknown step '$STEP'" >&2; usage ;;
esac
