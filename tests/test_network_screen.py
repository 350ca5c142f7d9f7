"""Hop networks with shared vacancy states and screen-then-refine (EMT, fast and exact)."""

import json
import pickle

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from calculators.network import run_network


class CountingEMT(EMT):
    """EMT that counts its evaluations."""

    calls = 0

    def calculate(self, *args, **kwargs):
        CountingEMT.calls += 1
        super().calculate(*args, **kwargs)


@pytest.fixture(scope="module")
def strained_cu():
    # fcc Cu 2x2x2 (32 sites) strained 1 : 1.05 : 1.15: three nearest-neighbour hop classes
    # (ab, ac, bc planes) with different barriers; the bc hop sets no percolation threshold
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.set_cell(atoms.cell[:] * [[1], [1.05], [1.15]], scale_atoms=True)
    return atoms


# On this network the estimates lie above CI-NEB by at most 0.145 eV (IDPP) and 0.05 eV (short
# NEB) (measured: 0.412/0.556/0.680 and 0.412/0.526/0.585 against 0.383/0.488/0.535 eV). A
# margin of 0.1 eV keeps every hop below the 0.488 eV threshold and drops the 0.535 eV one
# with IDPP (0.680 - 0.1 > 0.488).
MARGIN_EV = 0.1


def _run(atoms, screen, directory=None, margin_eV=MARGIN_EV):
    CountingEMT.calls = 0
    net = run_network(atoms, CountingEMT(), species="Cu", cutoff=2.9, n_images=1, screen=screen,
                      directory=directory, margin_eV=margin_eV, relax_host=False)
    return net, CountingEMT.calls


@pytest.fixture(scope="module")
def all_refined(strained_cu):
    return _run(strained_cu, "none")


@pytest.mark.slow
def test_shared_vacancy_states(all_refined):
    net, calls = all_refined
    assert len(net.hops) == 3 and all(h["refined"] for h in net.hops)
    # every Cu site is equivalent: one relaxation serves the 4 sites the hops touch
    assert set(net.site_energies_eV) == {"0", "1", "2", "3"} and net.site_energy_spread_eV < 1e-6
    assert net.force_calls["total"] == calls  # counted exactly
    assert net.force_calls["refinement"] == sum(h["force_calls"] for h in net.hops)
    # endpoints never recomputed per hop: each hop's calls are its band's
    assert net.force_calls["vacancy_states"] < 30


@pytest.mark.slow
@pytest.mark.parametrize("screen", ["idpp", "short-neb"])
def test_screened_network_matches_all_refined(strained_cu, all_refined, screen, tmp_path):
    ref, ref_calls = all_refined
    net, calls = _run(strained_cu, screen, tmp_path)
    for axis, value in ref.percolation_barrier_eV.items():
        assert net.percolation_barrier_eV[axis] == pytest.approx(value, abs=0.02)
    assert net.force_calls["total"] == calls
    for h in net.hops:
        assert h["screen_estimate"] == screen and h["screened_barrier_eV"] is not None
    written = json.loads((tmp_path / "network.json").read_text())
    assert written["screen"] == screen and "percolation_barrier_eV" in written
    assert {"site_energies_eV", "site_energy_spread_eV", "force_calls"} <= set(written)
    if screen == "short-neb":  # each CI-NEB band started through the hop's screened saddle:
        # the same saddle; stopped at fmax 0.05 both lie within 0.012 eV of it (measured: at
        # fmax 0.01 guided and IDPP-started bands agree to 0.0002 eV, 0.382/0.484/0.530 eV)
        for h in net.hops:
            doc = json.loads((tmp_path / f"hop-{h['class']:02d}" / "neb.json").read_text())
            assert doc["guided"] and (tmp_path / "screen" / f"hop-{h['class']:02d}.extxyz").is_file()
            same = next(x for x in ref.hops if x["class"] == h["class"])
            assert h["effective_barrier_eV"] == pytest.approx(same["effective_barrier_eV"], abs=0.012)
    if screen == "idpp":  # the highest hop is screened out: fewer force calls than all-refined
        assert [h["refined"] for h in net.hops] == [True, True, False]
        assert net.force_calls["total"] < ref.force_calls["total"]
    again, calls_again = _run(strained_cu, screen, tmp_path)  # resumed: screen.json, neb.json
    assert again.percolation_barrier_eV == pytest.approx(net.percolation_barrier_eV, abs=1e-6)
    assert calls_again < calls / 2


@pytest.mark.slow
def test_default_margins_cover_the_overestimate(strained_cu, all_refined):
    # the default margins (idpp 0.6, short-neb 0.25 eV) exceed both estimates' overestimate here:
    # every hop that can set a threshold is refined, the percolation barriers are the same
    ref, _ = all_refined
    for screen in ("idpp", "short-neb"):
        net, _ = _run(strained_cu, screen, margin_eV=None)
        # IDPP: the same CI-NEB runs; short NEB: bands started through the screened saddle, the
        # same saddles within the fmax 0.05 stopping tolerance (above)
        tolerance = 1e-6 if screen == "idpp" else 0.012
        assert net.percolation_barrier_eV == pytest.approx(ref.percolation_barrier_eV, abs=tolerance)
        assert net.screen_margin_eV == {"idpp": 0.6, "short-neb": 0.25}[screen]


@pytest.mark.slow
def test_workers_give_the_same_network(strained_cu, all_refined, tmp_path):
    # two worker processes (EMT by class, built once per process): same barriers, same calls
    ref, _ = all_refined
    net = run_network(strained_cu, EMT, species="Cu", cutoff=2.9, n_images=1, screen="idpp",
                      margin_eV=MARGIN_EV, workers=2, directory=tmp_path, relax_host=False)
    assert net.percolation_barrier_eV == pytest.approx(ref.percolation_barrier_eV, abs=1e-9)
    serial, _ = _run(strained_cu, "idpp")
    # the same vacancy states and estimates; every hop the serial order refines is refined the
    # same way (a second worker may start a hop that the first one's result makes unneeded)
    assert {k: net.force_calls[k] for k in ("vacancy_states", "screening")} == \
        {k: serial.force_calls[k] for k in ("vacancy_states", "screening")}
    for h, s in zip(net.hops, serial.hops, strict=True):
        assert h["refined"] >= s["refined"]
        if s["refined"]:
            assert h["force_calls"] == s["force_calls"]
    assert set(net.wall_time_s) == {"vacancy_states", "screening", "refinement"}


@pytest.mark.slow
def test_a_stopped_hop_keeps_its_band_and_resumes(strained_cu, all_refined, tmp_path):
    # With several workers a CI-NEB that another hop's result has made unneeded is asked to stop
    # (a STOP file in its folder, `refine_until_exact`). It ends at its next band step, says
    # how many force calls it spent, writes no neb.json; run again without the request it
    # resumes from the kept band and finds the saddle of an uninterrupted run.
    from calculators.network import _hop_dir, _neb_args, _neb_job, plan_network
    from calculators.results import band_name
    from calculators.workers import JobStopped, clear_stop, request_stop

    ref, _ = all_refined
    plan = plan_network(strained_cu, EMT, species="Cu", cutoff=2.9, n_images=1, directory=tmp_path,
                        relax_host=False)
    h, folder = plan.hops[0], _hop_dir(plan, plan.hops[0])
    request_stop(folder)
    stopped = _neb_job(*_neb_args(plan, h, True), True)
    assert isinstance(stopped, JobStopped)
    assert stopped.force_calls == 1  # the first band (1 interior image), then the request is seen
    assert pickle.loads(pickle.dumps(stopped)).force_calls == 1  # as a worker process returns it
    assert (folder / band_name(1)).is_file() and not (folder / "neb.json").exists()
    clear_stop(folder)
    doc, saddle_eV = _neb_job(*_neb_args(plan, h, True), True)
    assert doc["converged"]
    assert saddle_eV - plan.e_ref == pytest.approx(ref.hops[0]["effective_barrier_eV"], abs=0.012)


def test_refine_hops_leaves_a_stopped_hop_unrefined(strained_cu, tmp_path):
    # the fan-out's hop job (workflows.fireworks.network_tasks) runs refine_hops(stoppable=True):
    # a stopped hop stays unrefined for a later round, its force calls kept
    from calculators.network import _hop_dir, plan_network, refine_hops
    from calculators.workers import request_stop

    plan = plan_network(strained_cu, EMT, species="Cu", cutoff=2.9, n_images=1, directory=tmp_path,
                        relax_host=False)
    h = plan.hops[0]
    request_stop(_hop_dir(plan, h))
    refine_hops(plan, [h], stoppable=True)
    assert not h["refined"] and h["stopped_force_calls"] == 1 and "effective_barrier_eV" not in h


@pytest.mark.slow
def test_host_relaxed_once_with_its_symmetry(tmp_path):
    # an fcc Cu cell 2 % too large: the host relaxes (ions + cell) to EMT's lattice constant,
    # keeps Fm-3m (one hop class, one vacancy state), and is read back on a rerun
    atoms = bulk("Cu", "fcc", a=3.61 * 1.02, cubic=True).repeat(2)
    net = run_network(atoms, EMT, species="Cu", cutoff=2.9, n_images=1, directory=tmp_path)
    assert len(net.hops) == 1 and set(net.site_energies_eV.values()) == {0.0}
    assert net.host["converged"] and net.host["volume_change_percent"] < -4.0
    again = run_network(atoms, EMT, species="Cu", cutoff=2.9, n_images=1, directory=tmp_path)
    # a calculator object is not matched by name: the finished trajectory is resumed (1 call)
    assert again.host["force_calls"] == net.host["force_calls"]
    assert again.percolation_barrier_eV == pytest.approx(net.percolation_barrier_eV, abs=1e-6)


def test_workers_need_a_calculator_by_name(strained_cu):
    from calculators.neb import NEBInputError

    with pytest.raises(NEBInputError, match="by name"):
        run_network(strained_cu, EMT(), species="Cu", cutoff=2.9, workers=2, relax_host=False)


def test_unknown_screen_is_refused(strained_cu):
    from structures.errors import HecathodeInputError

    with pytest.raises(HecathodeInputError, match="--screen"):
        run_network(strained_cu, EMT(), species="Cu", cutoff=2.9, screen="fast", relax_host=False)


@pytest.fixture(scope="module")
def p1_cu_plan(strained_cu):
    """The strained Cu cell rattled by 0.01 Å (P1: every hop its own class), planned with EMT
    vacancy states, nothing refined; and each hop's plane (ab, ac or bc)."""
    from calculators.network import plan_network

    atoms = strained_cu.copy()
    atoms.rattle(0.01, seed=1)
    plan = plan_network(atoms, EMT(), species="Cu", cutoff=2.9, n_images=1, relax_host=False)
    planes = ["abc".replace("abc"[int(np.abs(h["vector_A"]).argmin())], "") for h in plan.hops]
    return plan, planes


# CI-NEB-like values per plane: the symmetric network's barriers (eV). a and b percolate through
# ab or ac / bc hops, c through ac or bc: a = b = 0.383, c = 0.488
PLANE_EV = {"ab": 0.383, "ac": 0.488, "bc": 0.535}


def _set(plan, planes, unrefined: dict) -> None:
    """Every hop refined at its plane's value, except `unrefined`: {class: short-NEB estimate}."""
    for h, plane in zip(plan.hops, planes, strict=True):
        k = h["class"]
        h.update({"refined": k not in unrefined, "screened_barrier_eV": unrefined.get(k),
                  "effective_barrier_eV": None if k in unrefined else PLANE_EV[plane]})


@pytest.mark.slow
def test_a_hop_that_cannot_move_a_bound_is_not_refined(p1_cu_plan):
    # The bound-and-refine rule on a P1 network (estimates set by hand, margins 0.25 eV below,
    # 0.1 eV above the estimate). One ab hop estimated at 0.35 eV lies in [0.10, 0.45], which
    # holds the 0.383 eV a/b threshold, but the 43 other ab hops percolate at 0.383 without it
    # and one hop alone closes no path: a and b are 0.383 at either end of its interval, so it
    # is not refined (the rule of the last release, "interval holds the optimistic threshold",
    # refined it).
    from calculators.network import hops_to_refine, network_result

    plan, planes = p1_cu_plan
    k = planes.index("ab")
    _set(plan, planes, {k: 0.35})
    assert hops_to_refine(plan, "short-neb", 0.25) == []
    for value in (0.10, 0.45):
        plan.hops[k].update({"refined": True, "effective_barrier_eV": value})
        net = network_result(plan, "short-neb", 0.25)
        assert net.percolation_barrier_eV == pytest.approx({"a": 0.383, "b": 0.383, "c": 0.488})
    # every ab hop estimated at 0.40: with all at 0.15 a and b percolate below 0.383, with all at
    # 0.50 above it (through ac hops, 0.488): they decide a and b and are refined
    ab = [i for i, p in enumerate(planes) if p == "ab"]
    _set(plan, planes, dict.fromkeys(ab, 0.40))
    todo = [h["class"] for h in hops_to_refine(plan, "short-neb", 0.25)]
    assert todo and set(todo) <= set(ab)


@pytest.mark.slow
def test_refinement_is_exact_when_the_estimates_lie_within_the_margins(p1_cu_plan):
    # 24 hops of the P1 network unrefined, each estimated at its CI-NEB-like value plus a random
    # error inside the margins (-0.1 .. +0.25 eV); the rest refined. Refining what the rule asks
    # for, one hop at a time, ends with the barriers of the fully refined network, exactly
    # (a percolation barrier only rises when a hop's barrier rises, so it lies between the
    # thresholds with every unrefined hop at its lower and at its upper bound; the rule stops
    # when those agree on every axis).
    from calculators.network import hops_to_refine, network_result

    plan, planes = p1_cu_plan
    rng = np.random.default_rng(7)
    for trial in range(2):
        chosen = rng.choice(len(planes), 24, replace=False)
        _set(plan, planes, {int(k): PLANE_EV[planes[k]] + rng.uniform(-0.1, 0.25) for k in chosen})
        refined = 0
        while todo := hops_to_refine(plan, "short-neb", 0.25):
            todo[0].update({"refined": True, "effective_barrier_eV": PLANE_EV[planes[todo[0]["class"]]]})
            refined += 1
        net = network_result(plan, "short-neb", 0.25)
        assert net.percolation_barrier_eV == pytest.approx({"a": 0.383, "b": 0.383, "c": 0.488}, abs=1e-9)
        assert refined < 24, trial  # the redundant hops of this well-connected network stay screened


def test_an_idpp_estimate_bounds_a_concerted_hop_on_neither_side():
    from types import SimpleNamespace

    from calculators.network import _bounds

    plan = SimpleNamespace(e_ref=-1.0)
    hop = {"endpoint_energies_eV": [-0.9, -0.8], "screened_barrier_eV": 0.5, "reconstructed": True}
    assert _bounds(plan, hop, "idpp", 0.6) == (pytest.approx(0.2), float("inf"))
    assert _bounds(plan, hop, "short-neb", 0.25) == (pytest.approx(0.25), pytest.approx(0.6))
    hop["reconstructed"] = False
    assert _bounds(plan, hop, "idpp", 0.6) == (pytest.approx(0.2), pytest.approx(0.5 + 0.1))


def test_thresholds_compare_equal_when_both_unbounded():
    # an axis that needs a hop with no upper bound has T_high = inf; inf must equal inf, or
    # every overlapping hop would count as moving that bound (extra CI-NEBs)
    from structures.hops import same_threshold as same

    inf = float("inf")
    assert same(inf, inf) and same(None, None) and same(0.3, 0.3 + 1e-12)
    assert not same(None, 0.3) and not same(0.3, inf) and not same(0.3, 0.31)
