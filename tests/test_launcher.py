"""Launcher guards that run before anything is started."""

from __future__ import annotations

import os

import pytest

from services.launcher import AlreadyRunning, single_instance
from services.settings import load_settings


def test_second_instance_on_same_data_folder_is_rejected(tmp_path):
    settings = load_settings({"CONTROL_TOWER_DATA_DIR": str(tmp_path)})

    with single_instance(settings):
        with pytest.raises(AlreadyRunning) as raised:
            with single_instance(settings):
                pass

    assert str(raised.value) == (
        f"the product already runs from the data folder {tmp_path} (pid {os.getpid()}); "
        "stop it first, or set CONTROL_TOWER_DATA_DIR to another folder"
    )


def test_lock_is_released_when_the_product_stops(tmp_path):
    settings = load_settings({"CONTROL_TOWER_DATA_DIR": str(tmp_path)})
    with single_instance(settings):
        pass

    with single_instance(settings):
        held_again = True

    assert held_again
