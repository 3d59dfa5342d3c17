// Package capacity is EmoStream's capacity model: from unit costs measured
// on the project's machine (units.go, each with the command that measured
// it) and stated assumptions (assume.go: instance types and list prices,
// target utilisation, Kafka's partition guidance), Plan sizes every tier
// for a load (viewers, reactions per second, regions): machines, Kafka
// partitions, leaf clusters and edges per region, bytes per tier per
// window and the cost per hour; Steps finds the tier that breaks first at
// each tenfold step; Predict gives the CPU and memory per tier of a small
// deployment, which scripts/capacity-check.sh measures to check the model.
// It reads nothing and writes nothing; "emostream plan" prints it, and
// docs/capacity.md holds its tables (kept equal by a test).
package capacity
