"""Planning a render from the header size alone."""

from __future__ import annotations

import pytest

from transforms.errors import OutputTooLargeError
from transforms.geometry import Size
from transforms.options import (
    CropSpec,
    Length,
    OrientSpec,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    ScaleMode,
)
from transforms.plan import Plan, plan_render, planned_size

LIMITS = RenderLimits()


def test_plan_follows_scale_then_crop_then_rotate() -> None:
    options = RenderOptions(
        resize=ResizeSpec(width=Length(600)),
        crop=CropSpec(width=Length(50, percent=True), height=Length(100)),
        orient=OrientSpec(rotate=90),
    )
    assert plan_render(1200, 800, options, LIMITS) == Plan(
        source=(1200, 800), decode=(600, 400), scaled=(600, 400), cropped=(300, 100), output=(100, 300)
    )


def test_plan_without_scaling_decodes_everything() -> None:
    options = RenderOptions(crop=CropSpec(width=Length(10)))
    assert plan_render(1200, 800, options, LIMITS).decode is None


def test_plan_for_fill_decodes_the_covering_size() -> None:
    options = RenderOptions(resize=ResizeSpec(width=Length(200), height=Length(200), mode=ScaleMode.FILL))
    plan = plan_render(1200, 800, options, LIMITS)
    assert plan.decode == (300, 200)
    assert plan.output == (200, 200)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (RenderOptions(), (1200, 800)),
        (RenderOptions(orient=OrientSpec(rotate=-90, flip=True)), (800, 1200)),
        (RenderOptions(orient=OrientSpec(rotate=45)), (1416, 1416)),
        (RenderOptions(resize=ResizeSpec(longest=Length(100)), orient=OrientSpec(rotate=180)), (100, 67)),
        (RenderOptions(crop=CropSpec(aspect_ratio=(1, 1)), orient=OrientSpec(rotate=90)), (800, 800)),
    ],
)
def test_planned_size(options: RenderOptions, expected: Size) -> None:
    assert planned_size(1200, 800, options, LIMITS) == expected


def test_planned_size_refuses_a_rotation_that_outgrows_the_limit() -> None:
    options = RenderOptions(resize=ResizeSpec(width=Length(8000)), orient=OrientSpec(rotate=45))
    with pytest.raises(OutputTooLargeError):
        planned_size(1000, 1000, options, LIMITS)
    assert planned_size(1000, 1000, options, RenderLimits(max_output_dimension=12000)) == (11314, 11314)


def test_planned_size_refuses_a_scaled_image_over_the_limit_even_if_cropped_later() -> None:
    options = RenderOptions(resize=ResizeSpec(width=Length(9000)), crop=CropSpec(width=Length(100), height=Length(100)))
    with pytest.raises(OutputTooLargeError):
        planned_size(1200, 800, options, LIMITS)
