using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SharpTune.Progress;

namespace SharpTune.Data.Sources;

/// <summary>Writes rows as normalized JSON Lines (UTF-8, one object per line), to a temporary file renamed into place.</summary>
public static class JsonLinesWriter
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Copies <paramref name="source"/> to <paramref name="path"/>; returns the number of rows written.</summary>
    public static long Write(IDataSource source, string path, BadRowPolicy badRows, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".tmp-{Guid.NewGuid():N}";
        long rows = 0;
        try
        {
            using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
            {
                foreach (var record in source.Read(badRows, cancellationToken))
                {
                    writer.Write(record.Fields.ToJsonString(Options));
                    writer.Write('\n');
                    if (++rows % 1000 == 0)
                    {
                        progress?.Report(new OperationProgress("fetch " + source.Name, rows, null, "row"));
                    }
                }
            }

            File.Move(temp, full, overwrite: true);
            progress?.Report(new OperationProgress("fetch " + source.Name, rows, rows, "row"));
            return rows;
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
