"""`hexa eval`: a versioned suite of notebook tasks run against a model, scored on the real
end state (README "Agent evals"). `tasks` reads the suite, `scripted` is the competent
agent the harness is proven with, `checks` judges an end state, `runner` runs tasks
against Hexa in this process with real marimo, `report` prints and writes the result."""
