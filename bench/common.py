"""Pieces shared by the benchmarks: paths, the machine description, peak memory, file output."""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
DEFAULT_OUT = BENCH_DIR / "results"

if str(REPO) not in sys.path:  # run as `python bench/throughput.py` from a checkout
    sys.path.insert(0, str(REPO))
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import torch  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info(device: torch.device) -> dict:
    """What the numbers were measured on (printed with the table and stored in the JSON)."""
    from lstm_tui.core.device import usable_cores

    usable = usable_cores()
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "loadavg_at_start": _loadavg(),
    }
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        info["gpu"] = torch.cuda.get_device_name(index)
        info["cuda"] = torch.version.cuda
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(index).total_memory / 2**30, 1)
    return info


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_line(info: dict) -> str:
    text = (
        f"{info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable, torch threads "
        f"{info['torch_threads']}), torch {info['torch']}, python {info['python']}"
    )
    if info.get("gpu"):
        text += f"; GPU {info['gpu']} ({info.get('gpu_memory_gib')} GiB), CUDA {info.get('cuda')}"
    if info.get("loadavg_at_start") is not None:
        text += f"; load average at start {info['loadavg_at_start']}"
    return text


class PeakMemory:
    """Peak memory of one run in a process that runs several.

    On CUDA: ``torch.cuda.max_memory_allocated`` after a reset (exact, tensors only).
    On the CPU there is no per-run allocator peak, so a thread samples the process's resident
    set size every ``interval`` seconds: ``peak_mib`` is the highest process RSS seen during the
    run (it includes everything the process already holds, e.g. the other engine's freed but
    unreturned memory) and ``delta_mib`` is that peak minus the RSS when the run began.
    Short spikes between samples can be missed.
    """

    def __init__(self, device: torch.device, interval: float = 0.02):
        self.device, self.interval = device, interval
        self.peak_mib = self.delta_mib = 0.0
        self.kind = "cuda max_memory_allocated" if device.type == "cuda" else "process RSS, sampled"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_rss = self._peak_rss = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start_rss = torch.cuda.memory_allocated(self.device)
        else:
            self._start_rss = self._peak_rss = _rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak_rss = max(self._peak_rss, _rss_bytes())

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            peak = self._peak_rss = max(self._peak_rss, _rss_bytes())
        self.peak_mib = peak / 2**20
        self.delta_mib = (peak - self._start_rss) / 2**20

    def to_dict(self) -> dict:
        return {"kind": self.kind, "peak_mib": round(self.peak_mib, 1), "delta_mib": round(self.delta_mib, 1)}


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB (a lifetime peak)


def write_results(out_dir: Path, stem: str, payload: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically (a temp file, then a rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".json", json.dumps(payload, indent=2, default=_json_default) + "\n"), (".md", markdown)):
        path = out_dir / f"{stem}{suffix}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]


def measure_each(names: list[str], measure, table, args, info: dict, stem: str) -> tuple[list[dict], str]:
    """``measure(name)`` for each name, rewriting ``<stem>.json`` / ``.md`` after every one (an
    interrupted run keeps what it measured); returns the results and the last table."""
    results: list[dict] = []
    text = ""
    for name in names:
        results.append(measure(name))
        text = table(results)
        write_results(
            args.out, stem, {"started": args.started, "argv": args.argv, "machine": info, "results": results}, text
        )
    return results, text


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return value
    return repr(value)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def fmt_rate(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.0f}"


def start(args, argv: list[str], script: str) -> tuple[torch.device, dict]:
    """What every bench does first: note the command and start time, set threads, pick the
    device and print the machine line. Returns (device, machine info)."""
    from lstm_tui.core.device import resolve_device

    args.argv = ["python", script, *argv]
    args.started = now_iso()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    info = machine_info(device)
    print(f"Machine: {machine_line(info)}", flush=True)
    return device, info
