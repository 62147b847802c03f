"""orbax_io.ensure_room counts the free space that this process's saves in flight leave."""

import errno

import numpy as np
import orbax.checkpoint as ocp
import pytest

from pdistill.storage import orbax_io


def test_ensure_room_waits_for_the_saves_in_flight(tmp_path):
  # As a run's checkpoint check right after its trajectory's save of the same step: the check
  # must not count the space that asynchronous save is still about to use.
  first = orbax_io.manager(str(tmp_path), 'a', item_names=('x',))
  tree = {'w': np.ones((2048, 2048), np.float32)}  # 16 MiB: still writing when save returns
  try:
    first.save(0, args=ocp.args.Composite(x=ocp.args.StandardSave(tree)))
    orbax_io.ensure_room(str(tmp_path), tree)
    assert not first.is_saving_in_progress()
    assert first.all_steps() == [0]
  finally:
    first.close()


def test_ensure_room_names_the_directory_when_the_disk_is_too_small(tmp_path):
  huge = {'w': np.broadcast_to(np.float32(0), (1 << 40,))}  # only its size is read
  with pytest.raises(OSError) as caught:
    orbax_io.ensure_room(str(tmp_path), huge)
  assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path)
  assert 'needed for the next save' in str(caught.value)
