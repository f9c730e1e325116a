namespace SharpTune.Data.Sources;

/// <summary>A dataset row that cannot be used: the message names the file, the row and (where there is one) the field.</summary>
public sealed class BadRowException : SharpTuneException
{
    public BadRowException(string source, long rowNumber, string? field, string problem, Exception? inner = null)
        : base(Describe(source, rowNumber, field, problem), inner ?? new InvalidDataException(problem))
    {
        Source = source;
        RowNumber = rowNumber;
        Field = field;
        Problem = problem;
    }

    public new string Source { get; }

    public long RowNumber { get; }

    public string? Field { get; }

    public string Problem { get; }

    private static string Describe(string source, long row, string? field, string problem) =>
        field is null ? $"{source}: row {row}: {problem}" : $"{source}: row {row}: field '{field}': {problem}";
}
