"""A small demo corpus in the SRE19-AV LDC layout, built offline from public-domain photos shipped by packages.

Identities: Grace Hopper (matplotlib's ``grace_hopper.jpg``, US Navy, public domain) and Eileen Collins
(scikit-image's ``astronaut.png``, NASA, public domain); distractor: scikit-image's ``camera.png`` (CC0).
Backgrounds: scikit-image's CC0 textures. Each video is 4 s at 10 fps, 640x360, H.264, with faces that move and
zoom; enrollment videos contain the enrolled person and a distractor, with annotated boxes of the enrolled person at
two instants. Two partitions (dev, eval) are rendered with different random motions, mirrors and lighting.

Layout of each partition root (as LDC2019E56/57)::

    docs/sre19_av_<part>_enrollment.tsv               modelid segmentid
    docs/sre19_av_<part>_enrollment_boundingbox.tsv   segmentid frame time bbox(x1,y1,x2,y2) ...
    docs/sre19_av_<part>_trials.tsv                   modelid segmentid side
    docs/sre19_av_<part>_trial_key.tsv                modelid segmentid side targettype
    data/enrollment/<segmentid>.mp4, data/test/<segmentid>.mp4
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from ..io.ldc import BoxAnnotation, Sre19Docs, cross_trial_key, write_sre19_docs
from ..zoo import locate_pypi_file
from . import write_video_atomically

W, H, FPS, SECONDS = 640, 360, 10, 4.0
PHOTOS = {  # name: (package file, face box x, y, w, h in the photo, measured with RetinaFace)
    "hopper": ("pypi:matplotlib:matplotlib/mpl-data/sample_data/grace_hopper.jpg", (177, 106, 176, 221)),
    "collins": ("pypi:scikit-image:skimage/data/astronaut.png", (177, 56, 95, 120)),
    "cameraman": ("pypi:scikit-image:skimage/data/camera.png", (195, 113, 60, 81)),
}
TEXTURES = ["brick", "grass", "gravel"]
PEOPLE = ["hopper", "collins"]


@dataclass
class Actor:
    """A head cut from a photo, with its face box in the cut's coordinates."""

    image: Image.Image
    face: tuple[float, float, float, float]  # x, y, w, h

    @classmethod
    def load(cls, name: str) -> "Actor":
        path, _ = locate_pypi_file(PHOTOS[name][0])
        photo = Image.open(path).convert("RGB")
        x, y, w, h = PHOTOS[name][1]
        mx, my = 0.7 * w, 0.6 * h
        box = (max(0, int(x - mx)), max(0, int(y - my)), min(photo.width, int(x + w + mx)), min(photo.height, int(y + h + my)))
        return cls(photo.crop(box), (x - box[0], y - box[1], w, h))


@dataclass
class Track:
    """Linear motion of an actor's face centre and height over the video, with optional mirror and lighting."""

    actor: Actor
    start: tuple[float, float, float]  # cx, cy, face height
    end: tuple[float, float, float]
    mirror: bool = False
    light: float = 1.0

    def at(self, u: float) -> tuple[float, float, float]:
        return tuple(a + (b - a) * u for a, b in zip(self.start, self.end))  # type: ignore[return-value]

    def paste(self, canvas: Image.Image, u: float) -> tuple[float, float, float, float]:
        """Draw the actor at time fraction ``u``; return its face box x1, y1, x2, y2 in the frame."""
        cx, cy, fh = self.at(u)
        fx, fy, fw, fhp = self.actor.face
        s = fh / fhp
        img = self.actor.image
        if self.mirror:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            fx = img.width - fx - fw
        img = ImageEnhance.Brightness(img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                                                 Image.Resampling.BILINEAR)).enhance(self.light)
        ox, oy = round(cx - (fx + fw / 2) * s), round(cy - (fy + fhp / 2) * s)
        canvas.paste(img, (ox, oy))
        return (ox + fx * s, oy + fy * s, ox + (fx + fw) * s, oy + (fy + fhp) * s)


def background(rng: np.random.Generator) -> Image.Image:
    path, _ = locate_pypi_file(f"pypi:scikit-image:skimage/data/{rng.choice(TEXTURES)}.png")
    tex = np.asarray(Image.open(path).convert("L").resize((W, H)), np.float32) / 255
    tint = rng.uniform(0.3, 0.8, 3)
    return Image.fromarray((tex[..., None] * tint * 255).astype(np.uint8))


def random_track(actor: Actor, rng: np.random.Generator, side: str) -> Track:
    """A track on the left/right/centre of the frame that moves and zooms."""
    x0 = {"left": 0.25, "right": 0.72, "centre": 0.5}[side] * W
    start = (x0 + rng.uniform(-40, 40), H * rng.uniform(0.4, 0.55), rng.uniform(70, 110))
    end = (x0 + rng.uniform(-60, 60), H * rng.uniform(0.4, 0.55), rng.uniform(90, 150))
    return Track(actor, start, end, mirror=bool(rng.random() < 0.5), light=rng.uniform(0.75, 1.2))


def render(path: Path, tracks: list[Track], rng: np.random.Generator) -> list[list[tuple[float, ...]]]:
    """Encode the video; return per frame the face boxes of every track."""
    bg = background(rng)
    n = int(SECONDS * FPS)
    boxes: list[list[tuple[float, ...]]] = []

    def frames():
        for k in range(n):
            canvas = bg.copy()
            boxes.append([t.paste(canvas, k / (n - 1)) for t in tracks])
            yield np.asarray(canvas)

    write_video_atomically(path, frames(), FPS)
    return boxes


def make_partition(root: Path, part: str, seed: int) -> None:
    """Render one partition (dev or eval) and write its LDC docs."""
    rng = np.random.default_rng(seed)
    actors = {name: Actor.load(name) for name in PHOTOS}
    docs = Sre19Docs()
    for person in PEOPLE:
        model, seg = f"{person}-{part}", f"enr{part}{person}"
        tracks = [random_track(actors[person], rng, "left"), random_track(actors["cameraman"], rng, "right")]
        boxes = render(root / "data" / "enrollment" / f"{seg}.mp4", tracks, rng)
        docs.enrollment.append((model, seg))
        for t in (1.0, 2.5):
            frame = int(t * FPS)
            docs.boxes.append(BoxAnnotation(seg, frame, t, boxes[frame][0], "demo"))
    tests = []  # (segment, person or None)
    for i, who in enumerate(["hopper", "hopper", "hopper", "collins", "collins", "collins", "cameraman", None]):
        seg = f"tst{part}{i:02d}"
        tracks = [random_track(actors[who], rng, "centre")] if who else []
        if who in PEOPLE and i % 3 == 1:  # some test videos also show the distractor
            tracks = [random_track(actors[who], rng, "left"), random_track(actors["cameraman"], rng, "right")]
        render(root / "data" / "test" / f"{seg}.mp4", tracks, rng)
        tests.append((seg, who))
    docs.key = cross_trial_key([(f"{person}-{part}", person) for person in PEOPLE], tests)
    write_sre19_docs(root, part, docs)


def build_demo_corpus(out_dir: str | Path, seed: int = 19) -> list[Path]:
    """Render ``<out_dir>/sre19_av_dev`` (seed ``seed``) and ``<out_dir>/sre19_av_eval`` (``seed + 1``)."""
    roots = []
    for k, part in enumerate(("dev", "eval")):
        root = Path(out_dir) / f"sre19_av_{part}"
        make_partition(root, part, seed + k)
        roots.append(root)
    return roots
