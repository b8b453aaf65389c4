"""Profiles: smoke runs on the sample; a missing full set falls back loudly, or fails."""

import pytest

from cifar_mlp import profiles
from cifar_mlp.data import DataNotFoundError


def no_full_data(*args, **kwargs):
    raise DataNotFoundError("CIFAR-10 not found (test)")


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    assert profiles.active_profile().name == "full"


def test_smoke_profile_uses_the_sample(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV, "smoke")
    monkeypatch.setattr(profiles, "load_cifar10", no_full_data)
    data = profiles.load_data()
    assert data.source == "sample" and len(data.x_train) == 2000
    assert "Smoke run" in profiles.banner(data).data


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="full, smoke"):
        profiles.active_profile()


def test_missing_full_data_falls_back_loudly(monkeypatch, capsys):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    monkeypatch.delenv(profiles.REQUIRE_FULL_ENV, raising=False)
    monkeypatch.setattr(profiles, "load_cifar10", no_full_data)
    data = profiles.load_data()
    assert data.source == "sample"
    assert "FULL CIFAR-10 WAS NOT FOUND" in capsys.readouterr().err
    assert "Not the full data set" in profiles.banner(data).data


def test_fallback_can_be_made_an_error(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    monkeypatch.setenv(profiles.REQUIRE_FULL_ENV, "1")
    monkeypatch.setattr(profiles, "load_cifar10", no_full_data)
    with pytest.raises(DataNotFoundError):
        profiles.load_data()


def test_no_banner_on_full_data(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    full = profiles.load_sample().__class__(*[None] * 4, source="full")
    assert profiles.banner(full) is None
