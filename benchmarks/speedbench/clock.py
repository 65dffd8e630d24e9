"""The clock every worker times with: wall time, process CPU time, the hypervisor's steal and the load
average of each timed interval (an epoch, a call, a product)."""
import os
import time


def steal_seconds():
    """CPU time the hypervisor gave to other guests while this machine wanted it ("steal"), summed
    over its CPUs since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class EpochClock:
    """Wall time, process CPU time, CPU time stolen by the hypervisor and the 1-minute load average
    of each timed interval.

    ``begin()`` ... ``end()`` appends ``{"seconds", "cpu_seconds", "steal_seconds", "load1"}``; CPU
    time counts every thread of the process, so ``cpu_seconds / seconds`` is the number of cores it
    kept busy; ``steal_seconds / seconds`` is how many cores' worth of time other virtual machines
    took from this one meanwhile (the noise of a shared host, which load does not show).
    """

    def __init__(self):
        self.records = []

    def begin(self):
        self._steal = steal_seconds()
        self._cpu = time.process_time()
        self._t = time.perf_counter()

    def end(self, **extra):
        seconds = time.perf_counter() - self._t
        cpu = time.process_time() - self._cpu
        steal = steal_seconds()
        stolen = steal - self._steal if steal is not None and self._steal is not None else None
        self.records.append({"seconds": seconds, "cpu_seconds": cpu, "steal_seconds": stolen,
                             "load1": os.getloadavg()[0], **extra})
        return self.records[-1]


def timed_epochs(clock, warmup=1):
    """Split a clock's records into the warm-up and the timed epochs."""
    return {"warmup": clock.records[:warmup], "epochs": clock.records[warmup:]}


def time_calls(f, reps):
    """One warm-up call, then ``reps`` calls each on an :class:`EpochClock` (for predict)."""
    f()
    clock = EpochClock()
    for _ in range(reps):
        clock.begin()
        f()
        clock.end()
    return clock.records

