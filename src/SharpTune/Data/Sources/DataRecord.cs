using System.Text.Json.Nodes;

namespace SharpTune.Data.Sources;

/// <summary>One row of a dataset as read from its source: its fields, and where it came from (for error messages).</summary>
/// <param name="Source">The file (or dataset id) the row came from.</param>
/// <param name="RowNumber">1-based row number within <paramref name="Source"/> (the line number for JSONL).</param>
/// <param name="Fields">The row's fields; nested objects and arrays are kept (see <c>FieldPath</c>).</param>
public sealed record DataRecord(string Source, long RowNumber, JsonObject Fields);
