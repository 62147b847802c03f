#!/usr/bin/env bash
# Runs "$@" detached from the SSH session that started it (a dropped connection does not stop
# it): output to pdistill_run.log, exit status to pdistill_run.rc, both in the current folder.
# tpu_pod.sh runs it on every worker; its status and logs steps read those two files.
set -u
rm -f pdistill_run.rc
nohup setsid bash -c '"$@" > pdistill_run.log 2>&1 < /dev/null; echo $? > pdistill_run.rc' \
  _ "$@" > /dev/null 2>&1 &
echo "$(hostname): started pid $!"
