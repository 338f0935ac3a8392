"""Datasets of the paper as uint8 tensors, loaded offline first."""

from .archive import safe_extract
from .loader import BatchIterator, augment_batch
from .sources import DATASETS, LoadRequest, default_cache_dir, list_available, load_dataset
from .tensors import ImageDataset, ImageSplit, ImageTensors, normalize, stratified_split

__all__ = [
    "DATASETS", "BatchIterator", "ImageDataset", "ImageSplit", "ImageTensors", "LoadRequest",
    "augment_batch", "default_cache_dir", "list_available", "load_dataset",
    "normalize", "safe_extract", "stratified_split",
]
