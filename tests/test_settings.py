"""structures.settings: the one place outside settings are read."""

import pytest

from structures.settings import CONFIG_DIR, PROTOTYPE_DIR, SettingError, n_cores, torch_threads


def test_config_folders_exist():
    assert (CONFIG_DIR / "rules" / "redox.yaml").is_file()
    assert (PROTOTYPE_DIR / "nvpf.yaml").is_file()


def test_torch_threads_preset_then_environment_then_cores(monkeypatch):
    monkeypatch.delenv("HECATHODE_TORCH_THREADS", raising=False)
    assert torch_threads() == n_cores()
    monkeypatch.setenv("HECATHODE_TORCH_THREADS", "3")
    assert torch_threads() == 3
    assert torch_threads(2) == 2  # a preset's `threads` wins over the environment


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_bad_thread_count_is_a_one_line_input_error(monkeypatch, value):
    monkeypatch.setenv("HECATHODE_TORCH_THREADS", value)
    with pytest.raises(SettingError, match="HECATHODE_TORCH_THREADS must be a whole number") as exc:
        torch_threads()
    assert "\n" not in str(exc.value) and isinstance(exc.value, ValueError)
