#!/usr/bin/env bash
# Mutation testing of the domain and the store's commit path with mutmut (configured in pyproject.toml).
#
#   tools/mutation.sh            the booking rules (overlap, blocking, status, state machine, stamps, marks) and
#                                the store's sync and discard steps: the set of docs/testing.md, ~11 minutes here
#   tools/mutation.sh commit     the store's _commit, _write_files and _append_audit
#   tools/mutation.sh rules      every function of domain/rules.py
#   tools/mutation.sh all        every function of rules.py, service.py and storage/store.py (hours)
#   tools/mutation.sh 'GLOB'...  the mutants whose names match (see `mutmut results`)
#
# Not part of .ci/run. Results: `mutmut results` (survivors), `mutmut show NAME` (the diff of one mutant);
# the last recorded run and what each survivor means are in docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
"$py" -m pip install -q "mutmut==3.8.1" >/dev/null
rules='parking_tui.domain.rules.x_'
store='parking_tui.storage.store.xǁTinyStoreǁ'
case "${1:-}" in
  "")  # the booking rules and the store's sync/discard: about 11 minutes on a busy 2-core machine
    set -- "${rules}overlaps__mutmut_*" "${rules}blocking_window__mutmut_*" "${rules}effective_status__mutmut_*" \
      "${rules}slot_status_at__mutmut_*" "${rules}check_can_check_out__mutmut_*" "${rules}check_can_cancel__mutmut_*" \
      "${rules}check_can_extend__mutmut_*" "${rules}to_stamp__mutmut_*" "${rules}from_stamp__mutmut_*" \
      "${rules}mark_in_force__mutmut_*" "${store}_sync_after__mutmut_*" "${store}_discard__mutmut_*" ;;
  commit)  # the rest of the commit path (about 320 mutants more; over an hour here)
    set -- "${store}_commit__mutmut_*" "${store}_write_files__mutmut_*" "${store}_append_audit__mutmut_*" ;;
  rules) set -- "${rules}*" ;;  # all of rules.py (630 mutants)
  all) set -- ;;                # rules.py, service.py and store.py
esac
started=$(date +%s)
"$py" -m mutmut run "$@"
echo "mutmut took $(( $(date +%s) - started )) s"
"$py" -m mutmut results
