using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpTune.Data.Sources;

/// <summary>A JSON file holding an array of row objects, or an object with the rows under <c>"data"</c>.</summary>
public sealed class JsonDocumentSource(string path) : IDataSource
{
    public string Name => path;

    public IEnumerable<DataRecord> Read(BadRowPolicy badRows, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path))
        {
            throw new SharpTuneException($"{path}: file not found");
        }

        JsonNode? root;
        try
        {
            string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (DecoderFallbackException e)
        {
            throw new SharpTuneException($"{path}: invalid UTF-8 at byte {e.Index}", e);
        }
        catch (JsonException e)
        {
            throw new SharpTuneException($"{path}: unparseable JSON: {e.Message}", e);
        }

        var rows = root switch
        {
            JsonArray array => array,
            JsonObject obj when obj["data"] is JsonArray data => data,
            _ => throw new SharpTuneException($"{path}: expected a JSON array of rows or an object with a \"data\" array"),
        };

        long row = 0;
        foreach (var node in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            row++;
            if (node is JsonObject fields)
            {
                yield return new DataRecord(path, row, (JsonObject)fields.DeepClone());
            }
            else
            {
                badRows.Handle(new BadRowException(path, row, null, "not a JSON object"));
            }
        }
    }
}
