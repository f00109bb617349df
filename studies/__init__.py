"""studies: design studies of qdtandem devices with optuna.

* ``studies.spec``  - study and simulate files (TOML): the layout, the data model, ``load`` /
  ``loads``; parameter values -> ``tandem.Design``. ``studies.spec_parser`` parses and
  validates (errors name the file and the key), ``studies.spec_checks`` checks materials, optical
  grids and presets; ``studies.simulate_file`` writes TOML
  (``dumps_toml``) and runnable simulate files (``write_simulate_file``).
* ``studies.run``   - the public entry points of the study modules: ``run_study`` and the
  read-back helpers ``load_study``, ``spec_of_study``, ``trials_frame``, ``trial_metrics``,
  ``best_trials``, ``param_importances``. The work is split into
  ``studies.storage`` (storage URLs, opening, the journal file), ``studies.objective``
  (parameters -> designs -> metrics -> outcome), ``studies.study`` (sampler, create/load, best
  trials, stale trials), ``studies.runner`` (batched ask/tell loop, workers, Ctrl-C, progress)
  and ``studies.outputs`` (CSV, Parquet, best design, Pareto front).
* ``studies.report`` - ``qdtandem report``: HTML + Markdown + JSON design reports of a simulate
  file or of a study's best design (subpackage: load, data, study, findings, figures, plots, render).
* ``studies.cli``   - the ``qdtandem`` command (optimize, simulate, materials, and extension
  subcommands such as ``report``).
"""
