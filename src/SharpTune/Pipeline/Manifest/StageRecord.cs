using System.Text.Json.Nodes;

namespace SharpTune.Pipeline.Manifest;

/// <summary>One stage in a run manifest: its key, inputs, settings, timing, outcome and outputs (never secrets).</summary>
public sealed record StageRecord(
    string Stage,
    string Outcome,
    string? Key,
    string? Artifact,
    IReadOnlyDictionary<string, string> Inputs,
    JsonObject? Settings,
    DateTimeOffset Started,
    double Seconds,
    IReadOnlyDictionary<string, string> Outputs,
    string? Error);
