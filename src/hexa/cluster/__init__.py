"""Replicas that share one database (README "Scale out"): who is alive (`membership`),
where each notebook runs (`placements`), and live events across replicas (`relay`)."""
