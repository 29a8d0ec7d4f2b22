"""The deep-learning genotype-and-risk model: crops in, genotype probabilities and risk out.

- :mod:`~gistcad.model.crop` — ``tumour_crop(image, mask, settings) -> Crop`` and
  ``to_image_grid``; :mod:`~gistcad.model.crop_cache` — ``CropCache``.
- :mod:`~gistcad.model.network` — ``ModelConfig``, ``build_model`` (MONAI EfficientNet-B0 or
  DenseNet121, 4 genotype logits + 1 risk score).
- :mod:`~gistcad.model.augment`, :mod:`~gistcad.model.loss`, :mod:`~gistcad.model.metrics`,
  :mod:`~gistcad.model.training` — ``TrainConfig``, ``train_model -> TrainResult``.
- :mod:`~gistcad.model.inference` — ``predict -> Predictions``;
  :mod:`~gistcad.model.gradcam` — ``gradcam``; :mod:`~gistcad.model.weights` —
  ``save_weights``, ``load_model`` (checksum first).
"""
