using System.Text;
using System.Text.RegularExpressions;

namespace SharpTune.Hub;

/// <summary>
/// File patterns for <c>--include</c>, with <c>huggingface_hub</c>'s semantics (Python <c>fnmatch</c>): <c>*</c> and
/// <c>?</c> match any characters including '/', <c>[abc]</c> is a set, and a pattern ending in '/' means everything
/// under that folder.
/// </summary>
public sealed class PathGlob
{
    private readonly Regex _regex;

    public PathGlob(string pattern)
    {
        Pattern = pattern;
        if (pattern.EndsWith('/'))
        {
            pattern += "*";
        }

        var regex = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*':
                    regex.Append(".*");
                    break;
                case '?':
                    regex.Append('.');
                    break;
                case '[' when pattern.IndexOf(']', i + 1) is > 0 and var end:
                    string set = pattern[(i + 1)..end];
                    regex.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                    i = end;
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        _regex = new Regex(regex.Append('$').ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }

    public string Pattern { get; }

    public bool IsMatch(string path) => _regex.IsMatch(path);

    /// <summary>True when no patterns are given or any of them matches.</summary>
    public static bool MatchesAny(IReadOnlyList<PathGlob> patterns, string path) => patterns.Count == 0 || patterns.Any(p => p.IsMatch(path));
}
