#!/usr/bin/env bash
# Mutation testing of the domain and of the TinyDB store's commit path with mutmut 3.8.1.
#
#   tools/mutation.sh rules          every function of domain/rules.py
#   tools/mutation.sh commit         the TinyDB store's transaction/commit code: the unit of work (port.py),
#                                    transaction, the lock, the cache check of each file (_load), the commit,
#                                    the temporary files/fsync/rename path, the audit append, the settling of a
#                                    transaction cut short, and ProcessLock (lock.py)
#   tools/mutation.sh MODULE         one other module of domain/: accounts, booking_rules, bookings, context,
#                                    errors, lots, models, ports, service, views
#   tools/mutation.sh domain         every module of domain/, one after the other (rules included)
#   tools/mutation.sh MODE 'GLOB'... only the mutants whose names match (re-runs them even if already run)
#   tools/mutation.sh MODE survivors  only the mutants that survived the last run (after adding tests); the other
#                                    verdicts are kept
#   tools/mutation.sh report         every mode's results as they stand, and domain/ as a whole
#
# Each mode works in its own folder, .mutation/MODE/ (the code and the tests are linked in, pyproject.toml is
# the project's with a [tool.mutmut] section for that mode: the file to mutate and the fast tests that can
# notice a change in it; the TUI and the slow tests are never run). mutmut runs, for each mutant, only the
# selected tests that call the mutated function, and keeps its results there: `tools/mutation.sh MODE` again
# re-runs only what changed. Delete .mutation/MODE to start over; `cd .mutation/MODE && mutmut results` lists
# the survivors and `mutmut show NAME` shows one. MUTATION_CHILDREN sets the number of test processes (1).
# The tests' temporary folders go to /dev/shm/parking-mutation-MODE when there is one (MUTATION_TMPDIR to choose).
# Run it under `nice -n 10`; it is not part of .ci/run. The last recorded results are in docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
py=$root/.venv/bin/python
[ -x "$py" ] || py=python3
"$py" -m pip install -q "mutmut==3.8.1" >/dev/null
children=${MUTATION_CHILDREN:-1}

# The fast tests of the domain: the service's use cases through both the facade and the rules, without the
# TUI, the doors, the command line or anything that starts processes.
domain_tests='"tests/core/test_rules_unit.py", "tests/core/test_rules_edges.py", "tests/core/test_subminute.py",
    "tests/core/test_accounts.py", "tests/core/test_context_unit.py", "tests/core/test_authorisation.py", "tests/core/test_bookings.py",
    "tests/core/test_lots.py", "tests/core/test_lots_day.py", "tests/core/test_lot_time.py",
    "tests/core/test_occupancy_hours.py", "tests/hardening/test_hostile_fields.py",
    "tests/hardening/test_time_zones.py", "tests/hardening/test_security.py", "tests/contract/test_store_contract.py",
    "tests/core/test_booking_rules_unit.py", "tests/core/test_views_edges.py", "tests/core/test_housekeeping_unit.py",
    "tests/core/test_lots_unit.py", "tests/core/test_lots_admin_unit.py", "tests/core/test_lots_marks_unit.py",
    "tests/core/test_bookings_unit.py", "tests/core/test_service_unit.py", "tests/core/test_bookings_audit_unit.py", "tests/core/test_login_unit.py"'
# The same without the two slowest files (the hostile-field properties and the lot's clock, 20 of the 34 s), for
# the modules whose functions every test calls (a surviving mutant of them runs every selected test): each of
# their runs then fits in a session on the shared machine. accounts and errors keep the whole selection.
domain_quick_tests='"tests/core/test_rules_unit.py", "tests/core/test_rules_edges.py", "tests/core/test_subminute.py",
    "tests/core/test_accounts.py", "tests/core/test_context_unit.py", "tests/core/test_authorisation.py", "tests/core/test_bookings.py",
    "tests/core/test_lots.py", "tests/core/test_lots_day.py", "tests/core/test_occupancy_hours.py",
    "tests/hardening/test_time_zones.py", "tests/hardening/test_security.py", "tests/contract/test_store_contract.py",
    "tests/core/test_booking_rules_unit.py", "tests/core/test_views_edges.py", "tests/core/test_housekeeping_unit.py",
    "tests/core/test_lots_unit.py", "tests/core/test_lots_admin_unit.py", "tests/core/test_lots_marks_unit.py",
    "tests/core/test_bookings_unit.py", "tests/core/test_service_unit.py", "tests/core/test_bookings_audit_unit.py", "tests/core/test_login_unit.py"'
# The tests of the store's write path that run in one process and in seconds: the commit's own unit tests
# (test_commit_unit.py: the lock, the unit of work, faults at each step, settling a commit cut short, what the
# root records), the power-cut model, the data files, damaged files, restore. Left out (each would cost every
# surviving mutant seconds on a busy machine): the tests that kill child processes mid-commit, the shared-folder
# and the other fault tests, and the restore killed at each rename.
commit_tests='"tests/core/test_commit_unit.py", "tests/core/test_power_loss.py", "tests/core/test_storage_files.py",
    "tests/hardening/test_damaged_files.py", "tests/hardening/test_restore.py"'
commit_skip='"--deselect", "tests/hardening/test_restore.py::test_restore_killed_at_each_rename_is_all_or_nothing", '

store='parking_tui.storage.tinydb.store.xǁTinyStoreǁ'
tx='parking_tui.storage.tinydb.store.xǁ_Transactionǁ'
uow='parking_tui.storage.tinydb.port.xǁTinyUnitOfWorkǁ'
lock='parking_tui.storage.tinydb.lock.xǁProcessLockǁ'

mode=${1:-rules}
shift || true
case "$mode" in
  domain)
    for m in rules accounts booking_rules bookings context errors lots models ports service views; do
      "$0" "$m" "$@"
    done
    exit 0 ;;
  rules)
    mutate='"parking_tui/domain/rules.py"'
    tests='"tests/core/test_rules_unit.py", "tests/core/test_rules_edges.py", "tests/core/test_subminute.py"'
    names=() ;;
  accounts|errors)
    mutate="\"parking_tui/domain/$mode.py\""
    tests=$domain_tests
    names=() ;;
  booking_rules|bookings|context|lots|models|ports|service|views)
    mutate="\"parking_tui/domain/$mode.py\""
    tests=$domain_quick_tests
    names=() ;;
  commit)
    extra=$commit_skip
    mutate='"parking_tui/storage/tinydb/store.py", "parking_tui/storage/tinydb/lock.py", "parking_tui/storage/tinydb/port.py"'
    tests=$commit_tests
    names=("${uow}*" "${store}transaction__mutmut_*" "${store}_locked__mutmut_*" "${store}_prefetch__mutmut_*"
      "${store}_load__mutmut_*" "${store}_discard__mutmut_*" "${store}_commit__mutmut_*"
      "${store}_settle__mutmut_*" "${store}_tx_landed__mutmut_*" "${store}_append_audit__mutmut_*"
      "${store}_sync_after__mutmut_*" "${store}_sync_dir__mutmut_*" "${store}_write_files__mutmut_*"
      "parking_tui.storage.tinydb.store.x__write_all__mutmut_*" "${tx}_next_from_block__mutmut_*" "${lock}*") ;;
  report)
    # What every mode's folder holds now, a line each, and domain/ as a whole.
    "$py" - "$root/.mutation" <<'EOF'
import json, pathlib, sys
from mutmut.stats import status_by_exit_code
domain = ("rules", "accounts", "booking_rules", "bookings", "context", "errors", "lots", "models", "ports", "service", "views")
total = {}
print(f"{'mode':14} {'in files':>8} {'run':>5} {'killed':>6} {'survived':>8} {'no test':>7} {'score':>6}")
for folder in sorted(pathlib.Path(sys.argv[1]).glob("*/mutants")):
    mode = folder.parent.name
    c = {"mutants": 0, "run": 0, "killed": 0, "survived": 0, "no test": 0}
    for meta in folder.rglob("*.py.meta"):
        for code in json.loads(meta.read_text())["exit_code_by_key"].values():
            c["mutants"] += 1
            if code is None:
                continue
            c["run"] += 1
            s = status_by_exit_code[code]
            key = "killed" if s in ("killed", "timeout", "caught by type check") else "no test" if s == "no tests" else "survived"
            c[key] += 1
    if mode in domain:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    x = c
    print(f"{mode:14} {x['mutants']:8} {x['run']:5} {x['killed']:6} {x['survived']:8} {x['no test']:7} {100 * x['killed'] / max(x['run'], 1):5.1f}%")
if total:
    x = total
    print(f"{'domain/':14} {x['mutants']:8} {x['run']:5} {x['killed']:6} {x['survived']:8} {x['no test']:7} {100 * x['killed'] / max(x['run'], 1):5.1f}%  (of the mutants run)")
EOF
    exit 0 ;;
  *) echo "unknown mode $mode (rules, commit, domain, or a module of domain/)" >&2; exit 2 ;;
esac
forced=0
survivors=0
if [ "${1:-}" = survivors ]; then survivors=1; shift; fi
if [ $# -gt 0 ]; then names=("$@"); forced=1; fi

work=$root/.mutation/$mode
mkdir -p "$work"
# The tests' stores live in memory when the machine has /dev/shm: every test builds one, and each commit's fsyncs
# on a disk cost most of a test's time (the commit selection took 23.6 s on disk and 9.4 s there, at a load of 5).
# Nothing the tests check depends on it: the fsync tests record the calls the store makes rather than timing them.
if [ -z "${MUTATION_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  MUTATION_TMPDIR=/dev/shm/parking-mutation-$mode
  # removed when the run ends (a run leaves a gigabyte or two of test folders there, in memory)
  trap 'rm -rf "$MUTATION_TMPDIR"' EXIT
fi
if [ -n "${MUTATION_TMPDIR:-}" ]; then mkdir -p "$MUTATION_TMPDIR" && export TMPDIR=$MUTATION_TMPDIR; fi
ln -sfn "$root/parking_tui" "$work/parking_tui"
ln -sfn "$root/tests" "$work/tests"
"$py" - "$root/pyproject.toml" "$work/pyproject.toml" "$mutate" "$tests" "${extra:-}" <<'EOF'
import re, sys
src, dst, mutate, tests, extra = sys.argv[1:]
text = open(src, encoding="utf-8").read()
text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", text)
text += f"""
[tool.mutmut]
source_paths = ["parking_tui/"]
only_mutate = [{mutate}]
pytest_add_cli_args = [{extra}"-p", "no:cacheprovider", "-m", "not slow", "-k", "not postgres", "-q"]
pytest_add_cli_args_test_selection = [{tests}]
"""
open(dst, "w", encoding="utf-8").write(text)
EOF
cd "$work"
started=$(date +%s)
# Names given on the command line: mutmut re-runs every mutant that matches them. Otherwise only the mutants
# with no result yet run (mutmut drops the results of functions whose code changed, and of every function when
# the test selection changed), so an interrupted or repeated run goes on where it stopped.
run=("${names[@]}")
if [ "$survivors" = 1 ] && [ -d mutants ]; then
  # Only the mutants that survived (or had no test) last time: after adding tests.
  mapfile -t run < <("$py" - "${names[@]}" <<'EOF'
import fnmatch, json, pathlib, sys
for meta in pathlib.Path("mutants").rglob("*.py.meta"):
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        if code in (0, 5, 33) and (len(sys.argv) == 1 or any(fnmatch.fnmatchcase(name, p) for p in sys.argv[1:])):
            print(name)
EOF
  )
  forced=1
  [ ${#run[@]} -gt 0 ] || { echo "$mode: no survivors"; forced=0; names=(); }
  # Adding a test file to the selection makes mutmut forget every verdict of the mode, not only the survivors':
  # keep the others (a mutant killed by a test still in the selection stays killed when tests are added), and put
  # them back after the run, for the functions whose code is unchanged.
  "$py" - <<'EOF'
import json, pathlib
keep = {}
for meta in pathlib.Path("mutants").rglob("*.py.meta"):
    data = json.loads(meta.read_text())
    keep[str(meta)] = {"codes": data["exit_code_by_key"], "hashes": data.get("hash_by_function_name", {})}
pathlib.Path("verdicts-before-survivors.json").write_text(json.dumps(keep))
EOF
fi
if [ "$forced" = 0 ] && [ ${#names[@]} -gt 0 ] && [ -d mutants ]; then
  mapfile -t run < <("$py" - "${names[@]}" <<'EOF'
import fnmatch, json, pathlib, sys
for meta in pathlib.Path("mutants").rglob("*.py.meta"):
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        if code is None and any(fnmatch.fnmatchcase(name, p) for p in sys.argv[1:]):
            print(name)
EOF
  )
  [ ${#run[@]} -gt 0 ] || echo "$mode: every mutant has a result (delete .mutation/$mode to run them all again)"
fi
if [ "$forced" = 1 ] || [ ${#names[@]} -eq 0 ] || [ ${#run[@]} -gt 0 ]; then
  "$py" -m mutmut run --max-children "$children" "${run[@]}" || true
fi
if [ "$survivors" = 1 ] && [ -f verdicts-before-survivors.json ]; then
  "$py" - <<'EOF'
import json, pathlib, re
before = json.loads(pathlib.Path("verdicts-before-survivors.json").read_text())
kept = 0
for path, old in before.items():
    meta = pathlib.Path(path)
    if not meta.exists():
        continue
    data = json.loads(meta.read_text())
    hashes = data.get("hash_by_function_name", {})
    for name, code in old["codes"].items():
        function = re.sub(r"__mutmut_\d+$", "", name).rsplit(".", 1)[-1]
        same = hashes.get(function) is not None and hashes.get(function) == old["hashes"].get(function)
        if code is not None and data["exit_code_by_key"].get(name, 0) is None and same:
            data["exit_code_by_key"][name] = code
            kept += 1
    meta.write_text(json.dumps(data))
pathlib.Path("verdicts-before-survivors.json").unlink()
print(f"kept {kept} verdicts of the earlier run (mutants not re-run, their functions unchanged)")
EOF
fi
echo "$mode: mutmut took $(( $(date +%s) - started )) s"
"$py" - "${names[@]}" <<'EOF'
import fnmatch, json, pathlib, sys
from mutmut.stats import status_by_exit_code
pats = sys.argv[1:]
counts, left = {}, []
for meta in sorted(pathlib.Path("mutants").rglob("*.py.meta")):
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        if pats and not any(fnmatch.fnmatchcase(name, p) for p in pats):
            continue
        s = status_by_exit_code[code]
        counts[s] = counts.get(s, 0) + 1
        if s not in ("killed", "timeout", "caught by type check"):
            left.append(f"  {s}: {name}")
total = sum(counts.values())
killed = counts.get("killed", 0) + counts.get("timeout", 0) + counts.get("caught by type check", 0)
print(f"mutants {total}, killed {killed} ({100 * killed / max(total, 1):.1f} %): {counts}")
print("\n".join(left))
EOF
