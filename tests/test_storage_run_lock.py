"""One run per workdir: a second process is refused at once, a killed holder's lock is free."""

import os
import subprocess
import sys

import pytest

from pdistill.storage import run_lock
from pdistill.storage.run_lock import WorkdirError
from pdistill.train import train_and_evaluate
from tiny_configs import tiny

HOLDER = ('import sys, time\nfrom pdistill.storage import run_lock\n'
          'with run_lock.hold(sys.argv[1]):\n  print("held", flush=True)\n  time.sleep(120)')


def test_a_second_process_is_refused_and_a_killed_holder_frees_the_workdir(tmp_path):
  workdir = str(tmp_path / 'run')
  holder = subprocess.Popen([sys.executable, '-c', HOLDER, workdir], stdout=subprocess.PIPE,
                            text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(WorkdirError, match=f'in use by pid {holder.pid} on host'):
      train_and_evaluate(tiny('teacher'), workdir)
    assert os.listdir(workdir) == ['.lock']  # the refused run wrote nothing
  finally:
    holder.kill()  # SIGKILL: no cleanup runs, the kernel drops the lock
    holder.wait()
  with run_lock.hold(workdir):
    with run_lock.hold(workdir):  # held by this process already: holding it again is a no-op
      pass


def test_a_workdir_that_is_a_file_is_refused(tmp_path):
  path = tmp_path / 'file'
  path.write_text('x')
  with pytest.raises(WorkdirError, match='is a file, not a folder'):
    train_and_evaluate(tiny('teacher'), str(path))
