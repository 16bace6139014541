"""Errors raised by the pure image operations.

    TransformError                 (abstract: never raised itself)
    ├── UnsupportedImageError      the bytes are not one of the allowed source formats
    ├── CorruptImageError          the bytes claim a known format but cannot be decoded
    ├── ImageTooLargeError         the source's header claims more pixels than allowed
    ├── TooManyFramesError         an animation has more frames than allowed
    ├── OutputTooLargeError        the requested output would exceed the largest side allowed
    └── RenderTimeoutError         the render passed its deadline (checked between steps)

These carry no HTTP status: ``origin.errors`` maps each class to one.
"""

from __future__ import annotations


class TransformError(Exception):
    """Root of every error raised by ``transforms``."""

    def __init__(self, message: str) -> None:
        if type(self) is TransformError:
            raise TypeError("TransformError is abstract; raise one of its subclasses")
        super().__init__(message)
        self.message = message


class UnsupportedImageError(TransformError):
    """The source is not an image in one of the allowed formats."""


class CorruptImageError(TransformError):
    """The source looks like an allowed format but its data cannot be decoded."""


class ImageTooLargeError(TransformError):
    """The source claims more pixels than the configured limit."""


class TooManyFramesError(TransformError):
    """The source animation has more frames than the configured limit."""


class OutputTooLargeError(TransformError):
    """The requested output has a side longer than the configured limit."""


class RenderTimeoutError(TransformError):
    """The render passed the deadline it was given; checked between steps, as Pillow cannot be interrupted."""
