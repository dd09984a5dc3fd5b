def test_the_diagnostics_jobs_run_and_write_to_both_streams(capfd):
    from diagnostics.definitions import defs

    result = defs.resolve_job_def("smoke_job").execute_in_process()
    assert result.success and result.output_for_node("report_worker") == "alive"
    out, err = capfd.readouterr()
    assert "diagnostics: stdout from the run worker" in out and "diagnostics: stderr from the run worker" in err
    assert defs.resolve_job_def("hold_job")
