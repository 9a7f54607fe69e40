"""The roles ``conveyor.Conveyor`` is composed of, one module each: submit, query,
control (cancel, pause), recurring schedules and the DLQ."""
