"""qdtandem CLI: optimize/simulate/materials, clear errors, and resume after SIGINT / SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
import types
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from studies import cli
from studies import run as runmod
from studies.simulate_file import dumps_toml
from studies.spec import load

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "studies" / "examples"




def test_parser_lists_subcommands_and_extensions(monkeypatch):
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert {"optimize", "simulate", "materials"} <= set(sub.choices)
    mod = types.ModuleType("qdt_fake_ext")
    mod.COMMAND, mod.HELP = "fakecmd", "a test subcommand"
    mod.add_arguments = lambda p: p.add_argument("x")
    mod.run = lambda args: 7 if args.x == "go" else 0
    monkeypatch.setitem(sys.modules, "qdt_fake_ext", mod)
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("qdt_fake_ext", "qdt_not_installed_ext"))
    assert cli.main(["fakecmd", "go"]) == 7


@pytest.mark.slow
def test_optimize_then_simulate_best_design(study_file, tmp_path, capsys):
    import tandem

    path = study_file(tmp_path, "c", n_trials=12, batch_size=6)
    out = tmp_path / "out"
    assert cli.main(["optimize", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "best design" in captured.out or "no feasible design" in captured.out
    assert "parameter importances" in captured.out
    assert "12/12" in captured.err                 # the progress bar reached the target
    for f in ("trials.csv", "trials.parquet"):
        assert (out / f).exists()
    url = runmod.storage_url(load(path))
    assert url == "journal://" + str(tmp_path.resolve() / "c.optuna.journal")   # the default
    study = optuna.load_study(study_name="c", storage=runmod.open_storage(url))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 12

    # --trials 0 only reports what the storage holds
    assert cli.main(["optimize", str(path), "--trials", "0", "--no-progress",
                     "--out", str(tmp_path / "again")]) == 0
    assert "12 finished trials" in capsys.readouterr().out
    assert len(study.get_trials()) == 12

    # a study without constraints always has a best design, written as a simulate file
    path2 = study_file(tmp_path, name="c2", n_trials=8, batch_size=8, constraints=[])
    assert cli.main(["optimize", str(path2), "--out", str(out / "2"), "--no-progress",
                     "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "best design (trial" in text
    best = out / "2" / "best_design.toml"
    assert cli.main(["simulate", str(best), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ref = tandem.evaluate(load(best, require_study=False).design({}))
    assert doc["metrics"]["pce_pct"] == pytest.approx(ref.pce_pct)
    assert doc["kind"] == "2T" and len(doc["layers"]) == 12
    assert doc["metrics"]["avt_pct"] is None          # NaN -> null in JSON
    assert cli.main(["simulate", str(best)]) == 0
    assert "pce_pct" in capsys.readouterr().out
    assert "(* free parameter)" in text and "*" in text.split("(* free parameter)")[0]


def _printed_metrics(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("  " * 2) and parts[0].islower():
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


@pytest.mark.parametrize("example,kind", [("quick.toml", "2T"), ("cspbi3qd_si_4t.toml", "4T"),
                                          ("cspbi3qd_window_st.toml", "semitransparent")])
def test_simulate_prints_the_metrics_of_its_kind(design_file, tmp_path, capsys, example, kind):
    import tandem

    path = design_file(tmp_path, "fixed", example)
    assert cli.main(["simulate", str(path)]) == 0
    text = capsys.readouterr().out
    assert "(* free parameter)" not in text and "*" not in text     # nothing is free in a simulate file
    shown = _printed_metrics(text)
    r = tandem.evaluate(load(path).design({}))
    assert shown["pce_pct"] == pytest.approx(r.pce_pct, rel=5e-4)
    if kind == "2T":       # the tandem J-V as well as each subcell, and the mismatch that sets the current
        for k in ("voc_v", "jsc_ma_cm2", "ff_pct"):
            assert shown[k] == pytest.approx(getattr(r, k), rel=5e-4), k
        assert shown["top_voc_v"] == pytest.approx(r.top.voc_v, rel=5e-4)
        assert shown["mismatch_ma_cm2"] == pytest.approx(r.mismatch_ma_cm2, rel=5e-4)
    elif kind == "4T":     # independent cells: no tandem Voc/Jsc/FF and no current mismatch
        assert shown["bottom_pce_pct"] == pytest.approx(r.bottom.pce_pct, rel=5e-4)
        assert not {"voc_v", "jsc_ma_cm2", "ff_pct", "mismatch_ma_cm2"} & set(shown)
    else:                  # one cell: its own figures, no top_ prefix
        assert not [k for k in shown if k.startswith(("top_", "bottom_"))]
        assert shown["jsc_ma_cm2"] == pytest.approx(r.top.jsc_ma_cm2, rel=5e-4)
        assert shown["voc_v"] == pytest.approx(r.top.voc_v, rel=5e-4)
        assert shown["avt_pct"] == pytest.approx(r.avt_pct, rel=5e-4)


def test_errors_are_one_line_with_file_and_key(tmp_path, capsys):
    assert cli.main(["simulate", str(EXAMPLES / "quick.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qdtandem: error: ") and "quick.toml" in err
    assert "layers[4].thickness_nm" in err and "Traceback" not in err

    raw = tomllib.loads((EXAMPLES / "quick.toml").read_text())
    raw["layers"][2]["material"] = "Unobtainium"
    bad = tmp_path / "bad.toml"
    bad.write_text(dumps_toml(raw))
    assert cli.main(["optimize", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "layers[2].material" in err and "Unobtainium" in err
    assert cli.main(["optimize", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err


def test_unreachable_database_is_a_one_line_error(capsys):
    pytest.importorskip("psycopg")
    with socket.socket() as sk:          # a port nobody listens on
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    url = f"postgresql://nobody@127.0.0.1:{port}/none"
    assert cli.main(["optimize", str(EXAMPLES / "quick.toml"), "--storage", url, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qdtandem: error: storage:") and err.count("\n") == 1


def test_journal_storage_errors_are_one_line(study_file, tmp_path, capsys):
    (tmp_path / "d.journal").mkdir()                   # a directory where the file should be
    path = study_file(tmp_path, name="j", n_trials=4, batch_size=4)
    assert cli.main(["optimize", str(path), "--storage", str(tmp_path / "d.journal"),
                     "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qdtandem: error: ") and "d.journal" in err and err.count("\n") == 1
    # the explicit journal URL form works and is reported back
    url = "journal://" + str(tmp_path / "runs" / "j.journal")
    assert cli.main(["optimize", str(path), "--storage", url, "--no-progress",
                     "--out", str(tmp_path / "o")]) == 0
    assert f"4 finished trials in {url}" in capsys.readouterr().out


def test_materials_lists_catalog(capsys):
    import nkdata

    assert cli.main(["materials"]) == 0
    out = capsys.readouterr().out
    for name in nkdata.names():
        assert name in out
    assert "10.1021/acsnano.2c09482" in out          # the Aftenieva CsPbI3 film's DOI
    assert max(len(line) for line in out.splitlines()) <= 100  # fits a 100-column terminal
    qd = next(line for line in out.splitlines() if line.startswith("CsPbI3_QD "))
    assert "absorber" in qd and "1.70-1.85" in qd    # category and tunable bandgap range (eV)
    assert cli.main(["materials", "--full"]) == 0
    full = capsys.readouterr().out
    assert "licence" in full and "Ciddor" in full    # every column, sources in full
    assert cli.main(["materials", "--csv"]) == 0
    import io

    import pandas as pd

    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table["name"]) == nkdata.names() and {"licence", "source", "doi"} <= set(table.columns)


# ----------------------------------------------------------------------------- resume

def _start(path: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "studies.cli", "optimize", str(path), "--no-progress",
         "--out", str(out), *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(url: str, name: str):
    study = optuna.load_study(study_name=name, storage=runmod.open_storage(url))
    trials = study.get_trials(deepcopy=False)
    done = {t.number: (t.params, t.values) for t in trials if t.state == TrialState.COMPLETE}
    running = [t.number for t in trials if t.state == TrialState.RUNNING]
    return done, running


def _wait_for(url, name, at_least, proc, timeout=90.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"optimize exited early ({proc.returncode}): {proc.stderr.read()}")
        try:
            done, _ = _snapshot(url, name)
            if len(done) >= at_least:
                return
        except (KeyError, ValueError, optuna.exceptions.StorageInternalError):
            pass   # study not created yet
        time.sleep(0.2)
    raise AssertionError("optimize made no progress")


@pytest.mark.slow
def test_killed_study_resumes_without_loss_or_duplicates(study_file, tmp_path):
    path = study_file(tmp_path, name="kill", n_trials=100_000, batch_size=4)
    url = runmod.storage_url(load(path))
    out = tmp_path / "out"

    # 1) Ctrl-C: the batch in flight is marked FAIL, finished trials stay
    p = _start(path, out)
    _wait_for(url, "kill", 8, p)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "re-run the same command" in err
    done1, running1 = _snapshot(url, "kill")
    assert len(done1) >= 8 and running1 == []

    # 2) SIGKILL: no chance to clean up; trials in flight stay RUNNING until the next start
    p = _start(path, out)
    _wait_for(url, "kill", len(done1) + 8, p)
    p.kill()
    p.communicate(timeout=30)
    done2, _ = _snapshot(url, "kill")
    assert all(done2[n] == done1[n] for n in done1)

    # 3) the same command (with a reachable target) finishes the study
    target = len(done2) + 6
    p = _start(path, out, "--trials", str(target))
    stdout, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    final, running = _snapshot(url, "kill")
    assert running == []                               # dead workers' trials failed as stale
    assert len(final) == target
    assert all(final[n] == done2[n] for n in done2)    # nothing lost or changed
    params = [tuple(sorted(v[0].items())) for v in final.values()]
    assert len(set(params)) == len(params)             # nothing evaluated twice
    study = optuna.load_study(study_name="kill", storage=runmod.open_storage(url))
    numbers = [t.number for t in study.get_trials()]
    assert len(numbers) == len(set(numbers))
    assert f"{target} finished trials" in stdout


@pytest.mark.slow
def test_interrupting_a_multi_worker_run_stops_all_workers_cleanly(study_file, tmp_path):
    path = study_file(tmp_path, name="mw", n_trials=100_000, batch_size=4)
    url = runmod.storage_url(load(path))
    p = _start(path, tmp_path / "out", "--workers", "2")
    _wait_for(url, "mw", 8, p)
    p.send_signal(signal.SIGINT)                      # to the parent only, as `kill -INT`
    _, err = p.communicate(timeout=90)
    assert p.returncode == 130, err
    done, running = _snapshot(url, "mw")
    assert running == []                              # workers finished or failed their batches
    time.sleep(0.5)
    study = optuna.load_study(study_name="mw", storage=runmod.open_storage(url))
    assert len([t for t in study.get_trials() if t.state == TrialState.RUNNING]) == 0


def test_printed_storage_urls_hide_passwords():
    from studies.storage import safe_url
    assert safe_url("postgresql://qdt:secret@db:5432/q") == "postgresql://qdt:***@db:5432/q"
    assert safe_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert safe_url("journal:///tmp/x.journal") == "journal:///tmp/x.journal"
    # URLs SQLAlchemy cannot parse still lose their password
    assert safe_url("postgresql://qdt:s/e@c#r?et@db:5432/q") == "postgresql://qdt:***@db:5432/q"
    assert "secret" not in safe_url("weird+driver://qdt:secret@[::1")
    assert safe_url("grpc://proxy:13000") == "grpc://proxy:13000"


def test_console_runs_blas_single_threaded_unless_the_user_says_otherwise(monkeypatch):
    import studies.cli as cli

    env = {"MKL_NUM_THREADS": "4"}
    cli.single_threaded_blas(env)
    assert env == {"MKL_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

    seen = {}
    for name in cli.BLAS_THREAD_VARIABLES:   # absent, and restored to what it was afterwards
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    monkeypatch.setattr(cli, "main", lambda: seen.update({k: os.environ.get(k) for k in cli.BLAS_THREAD_VARIABLES}) or 0)
    monkeypatch.setattr(cli.os, "_exit", lambda code: seen.setdefault("exit", code))
    cli.console()
    assert seen == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "exit": 0}
