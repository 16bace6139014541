"""Planning a render from the header size alone, and again from the trimmed size."""

from __future__ import annotations

import pytest

from transforms.errors import OutputTooLargeError
from transforms.geometry import Size
from transforms.options import (
    CanvasSpec,
    CropSpec,
    FrameSpec,
    FrameStyle,
    Length,
    OrientSpec,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    ScaleMode,
    TrimSpec,
)
from transforms.plan import Plan, plan_render, plan_trimmed, planned_size

LIMITS = RenderLimits()


def test_plan_follows_scale_then_crop_then_rotate() -> None:
    options = RenderOptions(
        resize=ResizeSpec(width=Length(600)),
        crop=CropSpec(width=Length(50, percent=True), height=Length(100)),
        orient=OrientSpec(rotate=90),
    )
    assert plan_render(1200, 800, options, LIMITS) == Plan(
        source=(1200, 800),
        decode=(600, 400),
        scaled=(600, 400),
        cropped=(300, 100),
        canvas=(300, 100),
        rotated=(100, 300),
        output=(100, 300),
    )


def test_plan_follows_scale_crop_canvas_rotate_frame() -> None:
    options = RenderOptions(
        resize=ResizeSpec(width=Length(600)),
        crop=CropSpec(width=Length(300), height=Length(200)),
        canvas=CanvasSpec(width=Length(400), border_height=5),
        orient=OrientSpec(rotate=-90),
        frame=FrameSpec(width=10, rim_width=2),
    )
    assert plan_render(1200, 800, options, LIMITS) == Plan(
        source=(1200, 800),
        decode=(600, 400),
        scaled=(600, 400),
        cropped=(300, 200),
        canvas=(400, 210),
        rotated=(210, 400),
        output=(234, 424),
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
        (RenderOptions(canvas=CanvasSpec(aspect_ratio=(16, 9))), (1422, 800)),
        (RenderOptions(canvas=CanvasSpec(aspect_ratio=(16, 9)), orient=OrientSpec(rotate=90)), (800, 1422)),
        (RenderOptions(canvas=CanvasSpec(height=Length(50, percent=True))), (1200, 800)),  # never cuts
        (RenderOptions(canvas=CanvasSpec(width=Length(150, percent=True), border_width=3)), (1806, 800)),
        (RenderOptions(frame=FrameSpec(width=10)), (1220, 820)),
        (RenderOptions(frame=FrameSpec(style=FrameStyle.NONE, width=10)), (1200, 800)),
        (RenderOptions(resize=ResizeSpec(width=Length(100)), frame=FrameSpec(rim_width=3)), (106, 73)),
        (RenderOptions(orient=OrientSpec(rotate=45), frame=FrameSpec(width=1)), (1418, 1418)),
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


def test_an_oversized_canvas_or_frame_is_refused_from_the_header() -> None:
    with pytest.raises(OutputTooLargeError):
        plan_render(4000, 3000, RenderOptions(canvas=CanvasSpec(width=Length(300, percent=True))), LIMITS)
    with pytest.raises(OutputTooLargeError):
        plan_render(8000, 100, RenderOptions(canvas=CanvasSpec(border_width=100)), LIMITS)
    with pytest.raises(OutputTooLargeError):
        plan_render(8000, 100, RenderOptions(frame=FrameSpec(width=50, rim_width=50)), LIMITS)
    with pytest.raises(OutputTooLargeError):  # the canvas's ratio grows the short side past the limit
        plan_render(8000, 8000, RenderOptions(canvas=CanvasSpec(aspect_ratio=(1, 2))), LIMITS)
    assert plan_render(8000, 100, RenderOptions(frame=FrameSpec(width=96)), LIMITS).output == (8192, 292)


def test_a_trim_is_planned_after_decoding() -> None:
    options = RenderOptions(trim=TrimSpec(enabled=True), resize=ResizeSpec(width=Length(300)))
    provisional = plan_render(1200, 800, options, LIMITS)
    assert provisional.provisional and provisional.decode is None  # every pixel is needed to find the border
    assert provisional.output == (300, 200)  # as if the trim kept the whole source
    trimmed = plan_trimmed(600, 600, options, LIMITS)
    assert trimmed == Plan(
        source=(600, 600),
        decode=None,
        scaled=(300, 300),
        cropped=(300, 300),
        canvas=(300, 300),
        rotated=(300, 300),
        output=(300, 300),
    )


def test_a_trim_is_checked_against_the_limit_once_its_size_is_known() -> None:
    options = RenderOptions(trim=TrimSpec(enabled=True), resize=ResizeSpec(height=Length(800)))
    # 2000x100 scaled to a height of 800 would be 16000 px wide; trimmed to 100x100 it is 800x800
    assert plan_render(2000, 100, options, LIMITS).output == (16000, 800)
    assert plan_trimmed(100, 100, options, LIMITS).output == (800, 800)
    with pytest.raises(OutputTooLargeError):
        plan_trimmed(2000, 100, options, LIMITS)
