"""Enumerations of dataset settings, as in ``azureml.data.dataset_type_definitions``."""

from enum import Enum

__all__ = ["PromoteHeadersBehavior"]


class PromoteHeadersBehavior(Enum):
    """How ``from_delimited_files`` reads the header line of its files."""

    NO_HEADERS = 0
    ONLY_FIRST_FILE_HAS_HEADERS = 1
    COMBINE_ALL_FILES_HEADERS = 2
    ALL_FILES_HAVE_SAME_HEADERS = 3
