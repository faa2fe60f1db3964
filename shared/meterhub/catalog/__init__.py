"""The program catalog: Leap's vocabulary (enums) and the programs as data, from which every onboarding rule derives."""
