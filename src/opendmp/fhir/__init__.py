"""The FHIR R4 / IHE MHD edge: parse FHIR into domain commands, render domain objects."""
