"""Profiles: smoke runs on the sample; a missing full set falls back loudly, or fails."""

from pathlib import Path

import pytest

from cifar_mlp import profiles
from cifar_mlp.data import DataNotFoundError
from cifar_mlp.preprocess import prepare

REPO = Path(__file__).resolve().parent.parent


def no_full_data(*args, **kwargs):
    raise DataNotFoundError("CIFAR-10 not found (test)")


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    assert profiles.active_profile().name == "full"


def test_smoke_profile_uses_the_sample(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV, "smoke")
    monkeypatch.setattr(profiles, "load_cifar10", no_full_data)
    data = profiles.load_data(root=REPO)
    assert data.source == "sample" and len(data.x_train) == 2000
    assert data.origin == str(REPO / "data" / "sample")
    assert "Smoke run" in profiles.banner(data).data


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="full, class, smoke"):
        profiles.active_profile()


def test_missing_full_data_falls_back_loudly(monkeypatch, capsys):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    monkeypatch.delenv(profiles.REQUIRE_FULL_ENV, raising=False)
    monkeypatch.setattr(profiles, "load_cifar10", no_full_data)
    data = profiles.load_data(root=REPO)
    assert data.source == "sample"
    assert "FULL CIFAR-10 WAS NOT FOUND" in capsys.readouterr().err
    assert "Not the full data set" in profiles.banner(data).data


def test_fallback_can_be_made_an_error(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    monkeypatch.setenv(profiles.REQUIRE_FULL_ENV, "1")
    monkeypatch.setattr(profiles, "load_cifar10", no_full_data)
    with pytest.raises(DataNotFoundError):
        profiles.load_data(root=REPO)


def test_full_profile_keeps_the_full_set_in_the_repositorys_data(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    calls = []
    monkeypatch.setattr(profiles, "load_cifar10", lambda **kwargs: calls.append(kwargs))
    monkeypatch.chdir(REPO / "notebooks")
    profiles.load_data()
    assert calls == [{"cache_dir": REPO / "data"}]


def test_no_banner_on_full_data(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    full = profiles.CIFAR10(*[None] * 4, source="full")
    assert profiles.banner(full) is None


@pytest.mark.parametrize("where", [".", "notebooks", "book"])
def test_project_root_finds_the_repository(monkeypatch, where):
    assert profiles.project_root(REPO / where) == REPO
    monkeypatch.chdir(REPO / where)
    assert profiles.project_root() == REPO


def test_project_root_outside_a_repository_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/sample"):
        profiles.project_root(tmp_path)


def test_run_settings_put_the_folders_under_the_root(tmp_path):
    full = profiles.CIFAR10(*[None] * 4, source="full")
    assert profiles.PROFILES["full"].run_settings(tmp_path, full) == {
        "max_epochs": None, "results_dir": tmp_path / "results", "weights_dir": tmp_path / "weights"}
    assert profiles.PROFILES["smoke"].run_settings(tmp_path, full) == {
        "max_epochs": 2, "results_dir": tmp_path / "results" / "smoke-full",
        "weights_dir": tmp_path / "weights" / "smoke"}


def test_class_runs_are_short_keep_their_own_weights_and_say_so(tmp_path):
    """A class run must not overwrite the full runs' weights or results, and its pages
    must say that their numbers come from short runs."""
    full = profiles.CIFAR10(*[None] * 4, source="full")
    lab = profiles.PROFILES["class"]
    settings = lab.run_settings(tmp_path, full)
    assert settings["results_dir"] == tmp_path / "results" / "class-full"
    assert settings["weights_dir"] == tmp_path / "weights" / "class"
    assert 0 < settings["max_epochs"] <= 10
    assert "Short runs" in profiles.banner(full, lab).data


@pytest.fixture(scope="module")
def sample():
    return profiles.load_sample(REPO / "data" / "sample")


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_every_profile_can_split_the_sample(name, sample):
    """The offline fallback: the full profile's 5,000 validation images do not fit in the
    2,000-image sample (prepare used to raise), so a sample gets a split that does."""
    profile = profiles.PROFILES[name]
    prepared = prepare(sample, "rgb", n_val=profile.n_val_for(sample), seed=0)
    assert len(prepared.x_val) == profiles.SAMPLE_N_VAL
    assert len(prepared.x_train) == len(sample.x_train) - profiles.SAMPLE_N_VAL


def test_full_data_keeps_the_profiles_validation_split():
    full = profiles.CIFAR10(*[None] * 4, source="full")
    assert profiles.PROFILES["full"].n_val_for(full) == 5000


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_only_full_runs_write_the_published_results(name, sample, tmp_path):
    """A run on the sample must never overwrite the full-data results files (it writes
    into a folder of its own), and fits the sample's size."""
    settings = profiles.PROFILES[name].run_settings(tmp_path, sample)
    assert settings["results_dir"] == tmp_path / "results" / f"{name}-sample"
    assert settings["max_epochs"] <= profiles.SAMPLE_MAX_EPOCHS


def test_the_package_does_not_locate_itself():
    """Folders come from the caller: no module of cifar_mlp looks at its own __file__."""
    sources = sorted((REPO / "cifar_mlp").glob("*.py"))
    assert sources
    offenders = [f"{path.name}:{number}" for path in sources
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if "__file__" in line]
    assert offenders == []
