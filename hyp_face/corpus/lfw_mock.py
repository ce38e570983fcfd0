"""A mock SRE19-AV corpus (LDC layout, dev + eval) composed from LFW photos, for tuning the back-end hyper-parameters.

The photos are read at run time from an LFW folder of ``<Name>_<NNNN>.jpg`` files (identity = file name minus
``_NNNN.jpg``), e.g. ``../shared/data/lfw_view2_deepfunneled150/warm-ice0x00_face-recognition-training/lfw``;
nothing of LFW is stored in the repository.

Identities with at least ``--min-images`` photos are the enrollable pool; the first ``--num-models`` of a seeded
shuffle are the dev models, the next ones the eval models. Every other identity (the rest of the pool included) goes
to one partition's "others" (half each), which supply the impostor test videos and the distractor faces, so the two
partitions share no identity. Each model keeps one or two photos (two when it has >= 6) for its enrollment video and
the rest for its test videos, so enrollment and test never show the same photo.

Videos (H.264, ``--width`` x ``--height``, ``--fps``) are cut in shots of one second; each shot pastes a photo of
each person present (random size, position, drift, mirror, brightness, blur) on a smooth random background,
encoded with x264 at CRF 28:

* enrollment: one shot of two seconds per enrollment photo, the model on one side and a distractor (another photo per
  shot) on the other; one annotated box of the model per shot, at the shot's middle second (the face box is found
  once per photo with the embedded RetinaFace, mapped through the paste);
* test: 4-6 one-second shots of one main person (a model, ``--tests-per-model`` videos each, or one of the others
  in ``--num-impostor-tests`` videos); with probability ``--distractor-prob`` the video also has a distractor, and
  then each shot shows the main person, the distractor or both (the main person in at least one shot).

Trials are the full model x test cross product; a trial is a target when the model's identity is the video's main
person. Rerunning skips videos that exist and rewrites the docs; a partition rendered from another plan (seed,
options, LFW folder) is an error (``plan.sha256`` in each root).

Layout of each partition root (as LDC2019E56/57; same files and headers as :mod:`hyp_face.corpus.demo`)::

    docs/sre19_av_<part>_enrollment.tsv               modelid segmentid
    docs/sre19_av_<part>_enrollment_boundingbox.tsv   segmentid frame time bbox(x1,y1,x2,y2) visible pose source
    docs/sre19_av_<part>_trials.tsv                   modelid segmentid side
    docs/sre19_av_<part>_trial_key.tsv                modelid segmentid side targettype
    docs/sre19_av_<part>_segment_key.tsv              segmentid subjectid partition (LFW names; not read by prep)
    data/enrollment/<segmentid>.mp4, data/test/<segmentid>.mp4
    face_diarization/ground_truth.{json,rttm}         who is visible in which frame of each test video, with boxes
    face_diarization/gallery/<Name>/                  links to the models' enrollment photos (corpus/face_truth.py)

The face-diarization protocol of a partition: its test videos, recognised against that gallery. The impostors and
distractors, who appear in the test videos, are not in the gallery (``in_gallery`` false in the ground truth).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from ..io.ldc import BoxAnnotation, Sre19Docs, cross_trial_key, write_sre19_docs
from ..io.table import write_lines
from . import CorpusError, write_video_atomically
from .face_truth import FOLDER as FACE_TRUTH_FOLDER
from .face_truth import TruthTrack, TruthVideo, write_face_truth

log = logging.getLogger(__name__)

PHOTO_NAME = re.compile(r"^(?P<who>.+)_(?P<num>\d{4})\.jpg$")
SHOT_SECONDS = 1.0
ENROLL_SHOT_SECONDS = 2.0
#: Photo height as a fraction of the frame height (the face is ~0.85 of the photo), and the largest blur radius.
SIZE_RANGE = (0.2, 0.6)
MAX_BLUR = 1.2
#: H.264 quality (x264 CRF; higher = more compression artefacts).
CRF = "28"
#: Face box (x1, y1, x2, y2) of a 150x150 deep-funneled LFW photo when RetinaFace finds none (median of detections).
DEFAULT_FACE_BOX = (27.0, 15.0, 123.0, 140.0)


@dataclass(frozen=True)
class Geometry:
    """Frame size and rate of the rendered videos."""

    width: int
    height: int
    fps: int


@dataclass(frozen=True)
class MockOptions:
    """How many identities and videos each partition gets, and the frame size and rate (see the module doc)."""

    seed: int = 4
    num_models: int = 160
    min_images: int = 4
    tests_per_model: int = 4
    num_impostor_tests: int = 160
    distractor_prob: float = 0.6
    width: int = 320
    height: int = 240
    fps: int = 10


@dataclass
class Appearance:
    """One person in one shot: which photo, where its centre goes (start -> end), its height, mirror, light."""

    photo: Path
    start: tuple[float, float]
    end: tuple[float, float]
    size: int
    mirror: bool
    light: float
    blur: float


@dataclass
class VideoPlan:
    """A video to render: its shots (each a list of appearances) and the seconds each shot lasts."""

    path: Path
    shots: list[list[Appearance]]
    shot_seconds: float
    background_seed: int


@dataclass
class Partition:
    """Identities of one partition: enrolled models (name -> photos) and the others (impostors, distractors)."""

    name: str
    models: dict[str, list[Path]]
    others: dict[str, list[Path]]
    docs: Sre19Docs = field(default_factory=lambda: Sre19Docs(segment_key=[]))
    tests: list[tuple[str, str]] = field(default_factory=list)  # (segment, main person)
    videos: list[VideoPlan] = field(default_factory=list)


def list_identities(lfw_dir: Path) -> dict[str, list[Path]]:
    """Photos per identity of an LFW folder, sorted; an error names the folder when it holds no LFW photo."""
    people: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(lfw_dir.iterdir()):
        m = PHOTO_NAME.match(path.name)
        if m:
            people[m["who"]].append(path)
    if not people:
        raise CorpusError(f"{lfw_dir}: no <Name>_<NNNN>.jpg photos")
    return dict(people)


def split_identities(people: dict[str, list[Path]], num_models: int, min_images: int,
                     rng: np.random.Generator) -> tuple[Partition, Partition]:
    """Disjoint dev/eval partitions: ``num_models`` models each from the rich identities, others split in half."""
    rich = sorted(p for p, photos in people.items() if len(photos) >= min_images)
    if len(rich) < 2 * num_models:
        raise CorpusError(f"only {len(rich)} identities have >= {min_images} photos; need {2 * num_models} "
                          f"({num_models} models for each of dev and eval)")
    rich = [rich[i] for i in rng.permutation(len(rich))]
    models = {"dev": rich[:num_models], "eval": rich[num_models:2 * num_models]}
    rest = sorted(set(people) - set(models["dev"]) - set(models["eval"]))
    rest = [rest[i] for i in rng.permutation(len(rest))]
    others = {"dev": rest[0::2], "eval": rest[1::2]}
    return tuple(Partition(part, {p: people[p] for p in models[part]}, {p: people[p] for p in others[part]})
                 for part in ("dev", "eval"))  # type: ignore[return-value]


def appearance(photo: Path, slot: str, geo: Geometry, rng: np.random.Generator, seconds: float) -> Appearance:
    """A random paste of ``photo`` in ``slot`` (left, right or centre of the frame), drifting during the shot."""
    size = int(rng.uniform(*SIZE_RANGE) * geo.height)
    lo, hi = {"left": (0.22, 0.3), "right": (0.7, 0.78), "centre": (0.35, 0.65)}[slot]
    cx, cy = rng.uniform(lo, hi) * geo.width, rng.uniform(0.42, 0.58) * geo.height
    drift = rng.uniform(-8, 8, 2) * seconds
    return Appearance(photo, (cx, cy), (cx + drift[0], cy + drift[1]), size, bool(rng.random() < 0.5),
                      float(rng.uniform(0.6, 1.3)), float(rng.uniform(0.0, MAX_BLUR)))


def pick(rng: np.random.Generator, items: list):
    """One element of ``items``, uniformly."""
    return items[int(rng.integers(len(items)))]


def two_slots(rng: np.random.Generator) -> tuple[str, str]:
    """Sides of (main person, distractor)."""
    return ("left", "right") if rng.random() < 0.5 else ("right", "left")


def plan_enrollment(part: Partition, index: int, photos: list[Path], geo: Geometry,
                    rng: np.random.Generator, root: Path) -> tuple[str, VideoPlan, list[float]]:
    """Segment id, video plan and annotated instants (s) of one enrollment video (one shot per enrollment photo)."""
    others = list(part.others)
    shots = []
    for photo in photos:
        distractor = pick(rng, others)
        side, other_side = two_slots(rng)
        shots.append([appearance(photo, side, geo, rng, ENROLL_SHOT_SECONDS),
                      appearance(pick(rng, part.others[distractor]), other_side, geo, rng, ENROLL_SHOT_SECONDS)])
    seg = f"enr{part.name}{index:03d}"
    plan = VideoPlan(root / "data" / "enrollment" / f"{seg}.mp4", shots, ENROLL_SHOT_SECONDS, int(rng.integers(2**31)))
    instants = [(k + 0.5) * ENROLL_SHOT_SECONDS for k in range(len(shots))]
    return seg, plan, instants


def plan_test(seg: str, main: list[Path], distractor: list[Path] | None, geo: Geometry,
              rng: np.random.Generator, root: Path) -> VideoPlan:
    """A 4-6 shot test video of the main person, with the distractor in some shots when one is given."""
    num_shots = int(rng.integers(4, 7))
    if distractor is None:
        present = [(True, False)] * num_shots
    else:
        main_in = rng.random(num_shots) < 0.7
        main_in[rng.integers(num_shots)] = True
        present = [(bool(m), bool(not m or rng.random() < 0.8)) for m in main_in]
    shots = []
    for main_here, distractor_here in present:
        if main_here and distractor_here:
            side, other_side = two_slots(rng)
            shots.append([appearance(pick(rng, main), side, geo, rng, SHOT_SECONDS),
                          appearance(pick(rng, distractor), other_side, geo, rng, SHOT_SECONDS)])
        else:
            who = main if main_here else distractor
            shots.append([appearance(pick(rng, who), "centre", geo, rng, SHOT_SECONDS)])
    return VideoPlan(root / "data" / "test" / f"{seg}.mp4", shots, SHOT_SECONDS, int(rng.integers(2**31)))


def plan_partition(part: Partition, root: Path, geo: Geometry, opts: MockOptions,
                   rng: np.random.Generator) -> dict[str, list[float]]:
    """Fill ``part`` with its videos, enrollment/segment rows and tests; return the annotated instants per segment."""
    instants: dict[str, list[float]] = {}
    test_photos: dict[str, list[Path]] = {}
    others = list(part.others)
    for i, (model, photos) in enumerate(part.models.items()):
        photos = [photos[k] for k in rng.permutation(len(photos))]
        n_enroll = 2 if len(photos) >= 6 else 1
        seg, plan, instants[seg] = plan_enrollment(part, i, photos[:n_enroll], geo, rng, root)
        test_photos[model] = photos[n_enroll:]
        part.videos.append(plan)
        part.docs.enrollment.append((model_id(part.name, i), seg))
        part.docs.segment_key.append((seg, model, "enrollment"))
    mains = [m for m in part.models for _ in range(opts.tests_per_model)]
    mains += [others[k] for k in rng.choice(len(others), opts.num_impostor_tests, replace=False)]
    for j in rng.permutation(len(mains)):
        main = mains[j]
        seg = f"tst{part.name}{len(part.tests):03d}"
        photos = test_photos.get(main) or part.others[main]
        distractor = None
        if rng.random() < opts.distractor_prob:
            name = pick(rng, others)
            while name == main:
                name = pick(rng, others)
            distractor = part.others[name]
        part.videos.append(plan_test(seg, photos, distractor, geo, rng, root))
        part.tests.append((seg, main))
        part.docs.segment_key.append((seg, main, "test"))
    return instants


def model_id(part: str, index: int) -> str:
    """LDC-like model id without '-' (the data prep joins model and segment with '-')."""
    return f"{index:04d}_lfw{part}"


def background(seed: int, geo: Geometry) -> Image.Image:
    """A smooth random colour background (bilinear upsampling of a small random image)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(30, 220, (3, 4, 3)).astype(np.uint8)
    return Image.fromarray(small).resize((geo.width, geo.height), Image.Resampling.BILINEAR)


class PhotoCache:
    """Loaded photos and their face boxes (RetinaFace once per photo, only for photos whose box is needed)."""

    def __init__(self) -> None:
        self._images: dict[Path, Image.Image] = {}
        self._boxes: dict[Path, tuple[float, float, float, float]] = {}
        self._detector = None

    def image(self, path: Path) -> Image.Image:
        if path not in self._images:
            self._images[path] = Image.open(path).convert("RGB")
        return self._images[path]

    def face_boxes(self, paths: list[Path]) -> None:
        """Detect the faces of ``paths`` in one batch; keep the best detection's box, or the default box."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._boxes]
        if not todo:
            return
        if self._detector is None:
            from hyp_face.detect import build_detector
            self._detector = build_detector("retinaface_mnet025_embedded")
        dets = self._detector.detect([np.asarray(self.image(p)) for p in todo], 0.5)
        for path, det in zip(todo, dets):
            if len(det.boxes):
                self._boxes[path] = tuple(float(v) for v in det.boxes[0])
            else:
                log.warning("%s: no face found; using the default LFW face box", path)
                self._boxes[path] = DEFAULT_FACE_BOX

    def face_box(self, path: Path) -> tuple[float, float, float, float]:
        return self._boxes[path]


def layout(app: Appearance, u: float, photo_size: tuple[int, int]) -> tuple[int, int, float, int]:
    """Where ``app`` goes at shot fraction ``u``: top-left x, y of the resized photo, its scale and width."""
    scale = app.size / photo_size[1]
    width = round(photo_size[0] * scale)
    cx = app.start[0] + (app.end[0] - app.start[0]) * u
    cy = app.start[1] + (app.end[1] - app.start[1]) * u
    return round(cx - width / 2), round(cy - app.size / 2), scale, width


def paste(canvas: Image.Image, app: Appearance, u: float, photos: PhotoCache) -> None:
    """Draw ``app`` at shot fraction ``u`` (resized, mirrored, lit, blurred)."""
    img = photos.image(app.photo)
    ox, oy, _, width = layout(app, u, img.size)
    img = img.resize((width, app.size), Image.Resampling.BILINEAR)
    if app.mirror:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = ImageEnhance.Brightness(img).enhance(app.light)
    canvas.paste(img.filter(ImageFilter.GaussianBlur(app.blur)) if app.blur > 0.05 else img, (ox, oy))


def face_box_in_frame(app: Appearance, u: float, photos: PhotoCache) -> tuple[float, float, float, float]:
    """The photo's face box mapped through the paste at shot fraction ``u`` (scale, mirror, offset), in pixels."""
    ox, oy, scale, width = layout(app, u, photos.image(app.photo).size)
    x1, y1, x2, y2 = (v * scale for v in photos.face_box(app.photo))
    if app.mirror:
        x1, x2 = width - x2, width - x1
    return ox + x1, oy + y1, ox + x2, oy + y2


def render(plan: VideoPlan, geo: Geometry, photos: PhotoCache) -> None:
    """Encode the video atomically (a temporary file renamed at the end)."""
    bg = background(plan.background_seed, geo)
    per_shot = round(plan.shot_seconds * geo.fps)

    def frames():
        for shot in plan.shots:
            for k in range(per_shot):
                canvas = bg.copy()
                for app in shot:
                    paste(canvas, app, k / max(1, per_shot - 1), photos)
                yield np.asarray(canvas)

    write_video_atomically(plan.path, frames(), geo.fps, options={"crf": CRF})


def enrollment_boxes(plan: VideoPlan, seg: str, instants: list[float], geo: Geometry, photos: PhotoCache
                     ) -> list[BoxAnnotation]:
    """Annotated boxes of the model (first appearance of each shot) at the annotated instants."""
    photos.face_boxes([shot[0].photo for shot in plan.shots])
    per_shot = round(plan.shot_seconds * geo.fps)
    rows = []
    for t in instants:
        frame = round(t * geo.fps)
        shot = plan.shots[frame // per_shot]
        u = (frame % per_shot) / max(1, per_shot - 1)
        rows.append(BoxAnnotation(seg, frame, t, clip_box(face_box_in_frame(shot[0], u, photos), geo), "lfw"))
    return rows


def clip_box(box: tuple[float, float, float, float], geo: Geometry) -> tuple[float, float, float, float]:
    """``box`` clipped to the frame's pixels."""
    x1, y1, x2, y2 = box
    return max(0.0, x1), max(0.0, y1), min(geo.width - 1.0, x2), min(geo.height - 1.0, y2)


def person_of(photo: Path) -> str:
    """The LFW identity of a photo (its file name minus ``_NNNN.jpg``)."""
    return PHOTO_NAME.match(photo.name)["who"]


def video_truth(plan: VideoPlan, root: Path, geo: Geometry, photos: PhotoCache, gallery: set[str]) -> TruthVideo:
    """Who is visible in each frame of ``plan`` with the face box (every appearance of a shot is one track)."""
    photos.face_boxes([app.photo for shot in plan.shots for app in shot])
    per_shot = round(plan.shot_seconds * geo.fps)
    tracks = []
    for s, shot in enumerate(plan.shots):
        for app in shot:
            boxes = [clip_box(face_box_in_frame(app, k / max(1, per_shot - 1), photos), geo) for k in range(per_shot)]
            who = person_of(app.photo)
            tracks.append(TruthTrack(len(tracks), who, who in gallery, s * per_shot, np.asarray(boxes)))
    return TruthVideo(plan.path.stem, str(plan.path.relative_to(root)), float(geo.fps), geo.width, geo.height,
                      per_shot * len(plan.shots), tracks)


def write_partition_truth(part: Partition, root: Path, geo: Geometry, photos: PhotoCache) -> None:
    """Ground truth of the test videos and the gallery (the models' enrollment photos): see face_truth."""
    gallery: dict[str, list[Path]] = {}
    tests = []
    for plan in part.videos:
        if plan.path.parent.name == "enrollment":
            for shot in plan.shots:
                gallery.setdefault(person_of(shot[0].photo), []).append(shot[0].photo)
        else:
            tests.append(plan)
    write_face_truth(root / FACE_TRUTH_FOLDER, [video_truth(p, root, geo, photos, set(gallery)) for p in tests],
                     gallery)


def check_plan(root: Path, part: Partition, geo: Geometry) -> None:
    """Record the plan's fingerprint in ``root``; an existing root rendered from another plan is an error."""
    videos = [(str(v.path.relative_to(root)), v.shot_seconds, v.background_seed,
               [[(a.photo.name, a.start, a.end, a.size, a.mirror, a.light, a.blur) for a in shot] for shot in v.shots])
              for v in part.videos]
    digest = hashlib.sha256(repr((geo, CRF, videos, part.tests)).encode()).hexdigest()
    stamp = root / "plan.sha256"
    if stamp.exists() and stamp.read_text().strip() != digest:
        raise CorpusError(f"{root}: rendered from another plan (seed, options or LFW folder); use a new --out-dir")
    write_lines(stamp, [digest])


def build_partition(part: Partition, root: Path, geo: Geometry, opts: MockOptions,
                    rng: np.random.Generator, photos: PhotoCache) -> None:
    """Plan, render (skipping existing videos of the same plan) and document one partition."""
    instants = plan_partition(part, root, geo, opts, rng)
    check_plan(root, part, geo)
    for plan in part.videos:
        if not plan.path.exists():
            render(plan, geo, photos)
        seg = plan.path.stem
        if seg in instants:
            part.docs.boxes += enrollment_boxes(plan, seg, instants[seg], geo, photos)
    part.docs.key = cross_trial_key([(model, person) for (model, _), person in zip(part.docs.enrollment, part.models)],
                                    part.tests)
    write_sre19_docs(root, part.name, part.docs)
    write_partition_truth(part, root, geo, photos)
    n_tar = sum(1 for _, main in part.tests if main in part.models)
    log.info("%s: %d models, %d test videos (%d of models), %d trials (%d target), %d + %d identities",
             root, len(part.models), len(part.tests), n_tar, len(part.models) * len(part.tests), n_tar,
             len(part.models), len(part.others))


def build_lfw_mock_corpus(lfw_dir: str | Path, out_dir: str | Path, opts: MockOptions = MockOptions()) -> None:
    """Write ``<out_dir>/sre19_av_dev`` and ``<out_dir>/sre19_av_eval`` from the photos of ``lfw_dir``."""
    if opts.width % 2 or opts.height % 2:
        raise CorpusError(f"frame size {opts.width}x{opts.height}: width and height must be even (yuv420p)")
    rng = np.random.default_rng(opts.seed)
    geo = Geometry(opts.width, opts.height, opts.fps)
    photos = PhotoCache()
    for part in split_identities(list_identities(Path(lfw_dir)), opts.num_models, opts.min_images, rng):
        build_partition(part, Path(out_dir) / f"sre19_av_{part.name}", geo, opts, rng, photos)
