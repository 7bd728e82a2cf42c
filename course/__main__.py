from course.cli import main

# Guarded: local Dask workers are spawned processes, which import the main module again.
if __name__ == "__main__":
    raise SystemExit(main())
