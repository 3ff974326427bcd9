#!/usr/bin/env bash
# Mutation testing of the domain rules and the store's commit path with mutmut (configured in pyproject.toml).
#
#   tools/mutation.sh            every function of domain/rules.py (628 mutants; under 5 minutes on a busy 2-core
#                                machine, most killed within milliseconds by tests/core/test_rules_unit.py)
#   tools/mutation.sh commit     the store's commit path: _commit, _write_files, _write_all, _append_audit,
#                                _sync_after, _sync_dir, _discard, _settle, _tx_landed (about 450 mutants);
#                                first add parking_tui/storage/tinydb/store.py to only_mutate and test_power_loss.py,
#                                test_bookings.py, test_authorisation.py to the test selection in pyproject.toml
#                                (kept out by default: they make every rules mutant slow)
#   tools/mutation.sh all        everything in only_mutate
#   tools/mutation.sh 'GLOB'...  the mutants whose names match (see `mutmut results`)
#
# Run it under `nice -n 19`; it uses one test process (--max-children 1). Not part of .ci/run. Results:
# `mutmut results` (survivors), `mutmut show NAME` (the diff of one mutant); the last recorded run and what
# each survivor means are in docs/testing.md. Delete mutants/ after changing the code or the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
"$py" -m pip install -q "mutmut==3.8.1" >/dev/null
rules='parking_tui.domain.rules.x_'
store='parking_tui.storage.tinydb.store.xǁTinyStoreǁ'
case "${1:-}" in
  ""|rules) set -- "${rules}*" ;;
  commit)
    set -- "${store}_commit__mutmut_*" "${store}_write_files__mutmut_*" "parking_tui.storage.tinydb.store.x__write_all__mutmut_*" \
      "${store}_append_audit__mutmut_*" "${store}_sync_after__mutmut_*" "${store}_sync_dir__mutmut_*" \
      "${store}_discard__mutmut_*" "${store}_settle__mutmut_*" "${store}_tx_landed__mutmut_*" ;;
  all) set -- ;;
esac
started=$(date +%s)
"$py" -m mutmut run --max-children 1 "$@"
echo "mutmut took $(( $(date +%s) - started )) s"
"$py" -m mutmut results
