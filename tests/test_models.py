"Out-of-process checks for the model modules: light imports and a refused malicious checkpoint in a fresh interpreter."
import subprocess, sys, textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_models_import_does_not_load_smp():
    "segmentation_models_pytorch is imported only when the U-Net MAE is built (it is slow to import)."
    r = _run("""
        import sys, cxrvit.models, cxrvit.checkpoint
        assert "segmentation_models_pytorch" not in sys.modules, "smp imported at module import"
        print("ok")
    """)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_malicious_pickle_never_runs(tmp_path):
    "A checkpoint whose unpickling would run a command is refused and the command does not run."
    marker = tmp_path / "pwned"
    r = _run(f"""
        import os, torch
        from cxrvit.checkpoint import safe_load, UnsafeCheckpointError
        class Evil:
            def __reduce__(self): return (os.system, ("touch {marker}",))
        torch.save({{"model": {{}}, "x": Evil()}}, "{tmp_path / 'evil.pth'}")
        try: safe_load("{tmp_path / 'evil.pth'}")
        except UnsafeCheckpointError as e: print("refused:", e)
    """)
    assert r.returncode == 0, r.stderr
    assert "refused:" in r.stdout and "allow_unsafe=True" in r.stdout
    assert not marker.exists()
