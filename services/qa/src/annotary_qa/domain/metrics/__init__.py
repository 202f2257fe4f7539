"""Agreement metrics: pure functions on plain Python/numpy data, each checked against a reference library.

- ``classification``: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha (nominal, missing data).
- ``dawid_skene``: annotator-weighted label estimation (EM).
- ``matching``: optimal (Hungarian) one-to-one matching at a threshold; precision/recall/F1, mean similarity.
- ``geometry``: box IoU (as pycocotools), exact polygon area/IoU, polygon simplicity.
- ``rle``: COCO run-length masks: decoding, area, IoU.
- ``keypoints``: object keypoint similarity (COCO OKS).
- ``spans``: exact-match and character-overlap F1 on (start, end, label).
- ``stats``: percentiles and throughput for annotator metrics.
"""
