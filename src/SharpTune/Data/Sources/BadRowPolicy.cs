namespace SharpTune.Data.Sources;

/// <summary>
/// What to do with a bad row: stop with its error (the default), or, with <c>--skip-bad-rows</c>, count it, keep the
/// first few messages for the report, and go on.
/// </summary>
public sealed class BadRowPolicy
{
    private const int KeptMessages = 20;
    private readonly List<string> _messages = [];

    public BadRowPolicy(bool skipBadRows) => SkipBadRows = skipBadRows;

    public bool SkipBadRows { get; }

    public int Skipped { get; private set; }

    /// <summary>The first few skipped rows' messages.</summary>
    public IReadOnlyList<string> Messages => _messages;

    /// <summary>Throws <paramref name="error"/> unless bad rows are skipped, in which case it is counted.</summary>
    public void Handle(BadRowException error)
    {
        if (!SkipBadRows)
        {
            throw error;
        }

        Skipped++;
        if (_messages.Count < KeptMessages)
        {
            _messages.Add(error.Message);
        }
    }
}
