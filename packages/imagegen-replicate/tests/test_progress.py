"""Progress from prediction replies: status and tqdm lines, reported only when they change."""

from __future__ import annotations

import pytest

from imagegen_replicate._progress import ProgressReader, latest_tqdm

LINE = " 40%|████      | 10/25 [00:01<00:01,  9.20it/s]"


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        (LINE, (0.4, "step 10/25")),
        (
            "Using seed: 1\n  0%|          | 0/4 [00:00<?, ?it/s]\n 50%|█████     | 2/4 [",
            (0.5, "step 2/4"),
        ),
        ("  0%|          | 0/8\r 25%|██▌       | 2/8\r", (0.25, "step 2/8")),
        (" 70%|#######   |", (0.7, None)),  # a bar without counts: its percentage
        ("Using seed: 1\nGenerating 1 image(s)\n", None),
        ("", None),
        ("999%|bar| ", None),  # not a percentage
        (" 50%|█████| 9/4", (0.5, None)),  # counts beyond their total are not believed
    ],
)
def test_the_last_tqdm_line_gives_the_fraction(logs, expected):
    assert latest_tqdm(logs) == expected


def test_a_reader_reports_each_change_once_and_never_invents_a_fraction():
    reader = ProgressReader()
    starting = reader.read("starting", None)
    assert starting is not None
    assert starting.fraction is None
    assert starting.queue_position is None  # Replicate does not say
    assert reader.read("starting", None) is None
    running = reader.read("processing", "Using seed: 3\n")
    assert running is not None
    assert running.fraction is None
    step = reader.read("processing", f"Using seed: 3\n{LINE}\n")
    assert step is not None
    assert (step.fraction, step.message) == (0.4, "step 10/25")
    assert reader.read("processing", f"Using seed: 3\n{LINE}\n") is None
    assert reader.read("succeeded", LINE) is None


def test_a_second_bar_is_reported_as_it_is():
    reader = ProgressReader()
    reader.read("processing", "100%|##########| 4/4\n")
    again = reader.read("processing", "100%|##########| 4/4\n 10%|#         | 1/10\n")
    assert again is not None
    assert again.fraction == 0.1
