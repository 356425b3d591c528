"""The pure domain core: no IO, no SQL, no FHIR, no web (STYLE.md, 'The shape we want')."""
