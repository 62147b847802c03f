# quote WORDS...: the words as one shell line, single-quoted where needed, so that a command
# printed by a --dry-run can be pasted back into a shell.  Sourced by the launch scripts.
quote() {
  local out=() a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then out+=("$a"); else out+=("${a@Q}"); fi
  done
  echo "${out[*]}"
}
