"""A dependency-free writer of TensorBoard event files holding scalar summaries.

TensorBoard reads TFRecord files of serialized ``Event`` protos.  Scalars need only three tiny
messages (Event, Summary, Summary.Value), so they are encoded here by hand rather than pulling
in TensorFlow (1.3 GB) or a protobuf schema package.
"""

from __future__ import annotations

import os
import socket
import struct
import time


def _make_crc32c_table():
  table = []
  for i in range(256):
    c = i
    for _ in range(8):
      c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    table.append(c)
  return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes) -> int:
  crc = 0xFFFFFFFF
  for b in data:
    crc = _CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
  out = bytearray()
  while True:
    byte = n & 0x7F
    n >>= 7
    if n:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_event(wall_time: float, step: int, *, scalars: dict[str, float] | None = None,
                 file_version: str | None = None) -> bytes:
  msg = b'\x09' + struct.pack('<d', wall_time) + b'\x10' + _varint(step)
  if file_version is not None:
    msg += _field_bytes(3, file_version.encode())
  if scalars:
    values = b''.join(
        _field_bytes(1, _field_bytes(1, tag.encode()) + b'\x15' + struct.pack('<f', value))
        for tag, value in scalars.items())
    msg += _field_bytes(5, values)
  return msg


def tfrecord(data: bytes) -> bytes:
  header = struct.pack('<Q', len(data))
  return (header + struct.pack('<I', _masked_crc(header)) + data +
          struct.pack('<I', _masked_crc(data)))


class EventWriter:
  """Appends scalar summaries to a new events file in ``logdir``."""

  def __init__(self, logdir: str):
    os.makedirs(logdir, exist_ok=True)
    name = f'events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}'
    self._file = open(os.path.join(logdir, name), 'ab')
    self._file.write(tfrecord(encode_event(time.time(), 0, file_version='brain.Event:2')))
    self._file.flush()

  def scalars(self, step: int, values: dict[str, float]) -> None:
    self._file.write(tfrecord(encode_event(time.time(), step, scalars=values)))
    self._file.flush()

  def close(self) -> None:
    self._file.close()
