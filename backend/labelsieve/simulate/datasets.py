"""Labelled data sets the simulation can replay: packaged ones (digits, ...), CSV, an image folder, a Label Studio
export.

Every loader returns a :class:`Dataset` (items of one kind, string labels, optional lead times)
or raises :class:`DatasetError` with a message that says what is wrong and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from labelsieve.labelstudio.media import MediaError, MediaFetcher
from labelsieve.simulate.dataset_base import Dataset, DatasetError
from labelsieve.simulate.packaged import PACKAGED, load_digits_dataset

__all__ = ["PACKAGED", "Dataset", "DatasetError", "load_csv", "load_dataset", "load_digits_dataset",
           "load_image_folder", "load_label_studio_export"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _lead_times(values: Any) -> np.ndarray | None:
    array = np.asarray(values, dtype=np.float64)
    return array if np.isfinite(array).any() else None


def load_csv(
    path: Path, *, label_column: str = "label", text_column: str | None = None,
    feature_columns: Sequence[str] | None = None, lead_time_column: str | None = None,
    task_type: str | None = None,
) -> Dataset:
    """A CSV with a label column and either one text column or numeric feature columns.

    A label cell may hold several labels separated by ``|`` (multi-label); ``task_type`` None detects it (any
    cell with a ``|``), ``"single_label"`` keeps ``|`` as part of a class name."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError as exc:
        raise DatasetError(f"CSV file {path} does not exist") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not a readable CSV file: {exc}") from exc
    columns = [str(c) for c in frame.columns]
    if label_column not in columns:
        raise DatasetError(f"{path.name} has no label column {label_column!r}; its columns are "
                           f"{', '.join(columns)}. Name the label column with --label-column.")
    frame = frame[frame[label_column].notna()]
    if frame.empty:
        raise DatasetError(f"{path.name} has no labelled rows")
    labels = frame[label_column].astype(str).to_numpy()
    if task_type is None:
        task_type = "multi_label" if any("|" in label for label in labels) else "single_label"
    lead_times = None
    if lead_time_column is not None:
        if lead_time_column not in columns:
            raise DatasetError(f"{path.name} has no lead-time column {lead_time_column!r}")
        lead_times = _lead_times(pd.to_numeric(frame[lead_time_column], errors="coerce").to_numpy())
    rest = [c for c in columns if c not in (label_column, lead_time_column)]
    if text_column is None and feature_columns is None:
        texts = [c for c in rest if not pd.api.types.is_numeric_dtype(frame[c])]
        if len(texts) == 1 and len(rest) == 1:
            text_column = texts[0]
        elif texts:
            raise DatasetError(f"{path.name} has non-numeric column(s) {', '.join(texts)}; name the text "
                               "column with --text-column or the numeric ones with --feature-columns")
    if text_column is not None:
        if text_column not in columns:
            raise DatasetError(f"{path.name} has no text column {text_column!r}; its columns are {', '.join(columns)}")
        texts = frame[text_column].fillna("").astype(str).tolist()
        return Dataset(name=path.stem, kind="text", items=texts, labels=labels, lead_times=lead_times,
                       task_type=task_type)
    features = list(feature_columns) if feature_columns is not None else rest
    missing = [c for c in features if c not in columns]
    if missing or not features:
        raise DatasetError(f"{path.name}: feature column(s) {', '.join(missing) or '(none)'} not found; "
                           f"its columns are {', '.join(columns)}")
    try:
        matrix = frame[features].to_numpy(dtype=np.float32)
    except ValueError as exc:
        raise DatasetError(f"{path.name}: feature columns must be numeric ({exc})") from exc
    if not np.all(np.isfinite(matrix)):
        raise DatasetError(f"{path.name}: feature columns contain empty or non-finite values")
    return Dataset(name=path.stem, kind="vector", items=matrix, labels=labels, lead_times=lead_times,
                   task_type=task_type)


def _read_image(path: Path, image_size: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"{path} is not a readable image: {exc}") from exc
    if rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def load_image_folder(root: Path, *, image_size: int = 32) -> Dataset:
    """``root/<class>/<image>``: one sub-folder per class; images resized to ``image_size`` squares."""
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist")
    items: list[np.ndarray] = []
    labels: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                items.append(_read_image(file, image_size))
                labels.append(folder.name)
    if not items:
        raise DatasetError(f"{root} holds no images in class sub-folders (expected {root}/<class>/<image>.png)")
    return Dataset(name=root.name, kind="image", items=items, labels=np.array(labels))


def _choices_of(annotation: dict[str, Any], from_name: str | None) -> list[str]:
    """Every choice (or taxonomy leaf) an annotation ticks for ``from_name`` (any control when None)."""
    for result in annotation.get("result") or []:
        if from_name is not None and result.get("from_name") != from_name:
            continue
        value = result.get("value") or {}
        choices = value.get("choices") or [path[-1] for path in value.get("taxonomy") or [] if path]
        if choices:
            return [str(c) for c in choices]
    return []


def load_label_studio_export(
    path: Path, *, data_key: str | None = None, from_name: str | None = None,
    document_root: Path | None = None, image_size: int = 32,
) -> Dataset:
    """A Label Studio JSON export: each task's first non-cancelled choice annotation is its label; an export in
    which some annotation ticks several choices (``choice="multiple"``, or taxonomy leaves) is multi-label.

    Images are read from local files: a ``/data/local-files/?d=...`` reference or a relative path
    under ``document_root`` (default: the export's folder). Lead times come from the annotations.
    """
    try:
        tasks = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DatasetError(f"Label Studio export {path} does not exist") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path.name} is not JSON: {exc}") from exc
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise DatasetError(f"{path.name} is not a Label Studio JSON export (expected a list of tasks)")
    values: list[Any] = []
    labels: list[str] = []
    lead: list[float] = []
    multi = False
    for task in tasks:
        data = task.get("data") or {}
        key = data_key or (next(iter(data)) if len(data) == 1 else None)
        if key is None:
            raise DatasetError(f"task {task.get('id')} has several data fields {sorted(data)}; name one with "
                               "--data-key")
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            choices = _choices_of(annotation, from_name)
            if choices and key in data:
                multi = multi or len(choices) > 1 or any(
                    "taxonomy" in (r.get("value") or {}) for r in annotation.get("result") or [])
                values.append(data[key])
                labels.append("|".join(choices))
                lead.append(float(annotation["lead_time"]) if annotation.get("lead_time") is not None else np.nan)
                break
    if not values:
        raise DatasetError(f"{path.name} has no tasks with a (non-cancelled) choice annotation")
    lead_times = _lead_times(lead)
    task_type = "multi_label" if multi else "single_label"
    if all(isinstance(v, str) for v in values) and not _looks_like_media(values[0]):
        return Dataset(name=path.stem, kind="text", items=values, labels=np.array(labels), lead_times=lead_times,
                       task_type=task_type)
    if all(isinstance(v, list) for v in values):
        try:
            matrix = np.asarray(values, dtype=np.float32)
        except ValueError as exc:
            raise DatasetError(f"{path.name}: vector data must be equal-length numeric lists") from exc
        return Dataset(name=path.stem, kind="vector", items=matrix, labels=np.array(labels), lead_times=lead_times,
                       task_type=task_type)
    images = _load_export_images(values, document_root or path.parent, image_size)
    return Dataset(name=path.stem, kind="image", items=images, labels=np.array(labels), lead_times=lead_times,
                   task_type=task_type)


def _looks_like_media(value: str) -> bool:
    lowered = value.lower()
    return lowered.startswith(("/data/", "data:image/", "http://", "https://")) or (
        Path(lowered.split("?")[0]).suffix in IMAGE_SUFFIXES)


def _load_export_images(refs: list[Any], document_root: Path, image_size: int) -> list[np.ndarray]:
    fetcher = MediaFetcher(base_url=None, auth=None, document_root=document_root, cache_dir=None)
    images = []
    for ref in refs:
        ref = str(ref)
        if not ref.startswith(("/", "data:", "http://", "https://")):
            ref = f"/data/local-files/?d={ref}"
        try:
            image = fetcher.load_image(ref).convert("RGB")
        except MediaError as exc:
            raise DatasetError(f"cannot read image {ref!r}: {exc} (set --document-root to the folder Label "
                               "Studio serves local files from)") from exc
        if image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
        images.append(np.asarray(image, dtype=np.uint8))
    return images


def load_dataset(spec: str, **options: Any) -> Dataset:
    """A packaged data set's name (``digits``, ``rotten-tomatoes``, ...: :data:`PACKAGED`), a ``.csv`` file, a
    ``.json`` Label Studio export, or an image folder."""
    if spec in PACKAGED:
        return PACKAGED[spec]()
    path = Path(spec)
    if path.is_dir():
        return load_image_folder(path, image_size=options.get("image_size", 32))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_csv(path, label_column=options.get("label_column") or "label",
                        text_column=options.get("text_column"), feature_columns=options.get("feature_columns"),
                        lead_time_column=options.get("lead_time_column"))
    if suffix == ".json":
        return load_label_studio_export(path, data_key=options.get("data_key"), from_name=options.get("from_name"),
                                        document_root=options.get("document_root"),
                                        image_size=options.get("image_size", 32))
    if not path.exists():
        raise DatasetError(f"data set {spec!r} not found: give a packaged name ({', '.join(PACKAGED)}), a .csv "
                           "file, a Label Studio .json export or a folder with one sub-folder per class")
    raise DatasetError(f"cannot read {spec!r}: expected a packaged name, a .csv, a .json export or an image folder")
