using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace SharpTune.Hub;

/// <summary>
/// The body of <c>POST /api/{type}s/{id}/commit/{revision}</c>: NDJSON, one header line
/// (<c>{"key":"header","value":{"summary":...,"description":...}}</c>), then one line per file: <c>file</c> with the
/// content in base64 for regular files, <c>lfsFile</c> with <c>algo</c>/<c>oid</c>/<c>size</c> for files already sent
/// to LFS storage. Written as it is sent, one file in memory at a time.
/// </summary>
internal sealed class CommitPayload(string summary, string description, IReadOnlyList<LocalUploadFile> regular, IReadOnlyList<LocalUploadFile> lfs) : HttpContent
{
    public const string MediaType = "application/x-ndjson";

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await WriteLineAsync(stream, w =>
        {
            w.WriteString("key", "header");
            w.WriteStartObject("value");
            w.WriteString("summary", summary);
            w.WriteString("description", description);
            w.WriteEndObject();
        }).ConfigureAwait(false);
        foreach (var file in regular)
        {
            byte[] content = await File.ReadAllBytesAsync(file.LocalPath).ConfigureAwait(false);
            if (content.LongLength != file.Size)
            {
                throw new SharpTuneException($"{file.LocalPath}: the file changed after it was hashed");
            }

            await WriteLineAsync(stream, w =>
            {
                w.WriteString("key", "file");
                w.WriteStartObject("value");
                w.WriteString("content", Convert.ToBase64String(content));
                w.WriteString("path", file.RepoPath);
                w.WriteString("encoding", "base64");
                w.WriteEndObject();
            }).ConfigureAwait(false);
        }

        foreach (var file in lfs)
        {
            await WriteLineAsync(stream, w =>
            {
                w.WriteString("key", "lfsFile");
                w.WriteStartObject("value");
                w.WriteString("path", file.RepoPath);
                w.WriteString("algo", "sha256");
                w.WriteString("oid", file.Sha256);
                w.WriteNumber("size", file.Size);
                w.WriteEndObject();
            }).ConfigureAwait(false);
        }
    }

    private static async Task WriteLineAsync(Stream stream, Action<Utf8JsonWriter> body)
    {
        using var line = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(line))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        line.WriteByte((byte)'\n');
        line.Position = 0;
        await line.CopyToAsync(stream).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    public static CommitPayload Create(string message, IReadOnlyList<LocalUploadFile> regular, IReadOnlyList<LocalUploadFile> lfs)
    {
        string text = message.ReplaceLineEndings("\n").Trim();
        int split = text.IndexOf('\n');
        var payload = split < 0
            ? new CommitPayload(text, "", regular, lfs)
            : new CommitPayload(text[..split].Trim(), text[(split + 1)..].Trim(), regular, lfs);
        payload.Headers.ContentType = new MediaTypeHeaderValue(MediaType);
        return payload;
    }
}
