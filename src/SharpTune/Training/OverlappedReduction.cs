using System.Text.RegularExpressions;
using SharpTune.Distributed;
using TorchSharp.Modules;

namespace SharpTune.Training;

/// <summary>
/// Gradient reduction overlapped with the backward pass: a bucketed reducer over the trainable parameters (summing
/// over ranks), and <see cref="LayerBackwardDone"/> for the model to call when decoder layer i's backward has finished,
/// which marks that layer's parameters ready; a bucket's all-reduce starts as soon as all its parameters are.
/// <see cref="Finish"/> marks the rest (parameters outside the decoder layers) and waits.
/// Parameters are matched to layers by their names (<c>...layers.{i}....</c>).
/// </summary>
internal sealed partial class OverlappedReduction : IDisposable
{
    private readonly IGradientReducer _reducer;
    private readonly Dictionary<int, int[]> _parametersOfLayer;

    private OverlappedReduction(IGradientReducer reducer, Dictionary<int, int[]> parametersOfLayer)
    {
        _reducer = reducer;
        _parametersOfLayer = parametersOfLayer;
        LayerBackwardDone = MarkLayer;
    }

    /// <summary>Layer i's backward has finished: its parameters' gradients are final for this step.</summary>
    public Action<int> LayerBackwardDone { get; }

    /// <summary>
    /// An overlapped reduction when it applies (more than one rank, the option on, checkpointed layers that report
    /// the end of their backward), else null: the trainer then reduces after the backward.
    /// </summary>
    public static OverlappedReduction? TryCreate(IGradientSynchronizer? synchronizer, IReadOnlyList<(string Name, Parameter Parameter)> parameters, TrainingOptions options)
    {
        if (synchronizer is not { WorldSize: > 1 } || !options.OverlapGradientReduce || options.GradientCheckpointing == GradientCheckpointing.Off)
        {
            return null;
        }

        var layers = parameters
            .Select((p, index) => (Layer: LayerIndex(p.Name), Index: index))
            .Where(p => p.Layer is not null)
            .GroupBy(p => p.Layer!.Value)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Index).ToArray());
        var reducer = synchronizer.CreateReducer([.. parameters.Select(p => (TorchSharp.torch.Tensor)p.Parameter)], scale: 1.0);
        return new OverlappedReduction(reducer, layers);
    }

    /// <summary>The decoder layer a parameter name belongs to (<c>...layers.12.self_attn...</c> -> 12), or null.</summary>
    public static int? LayerIndex(string name) => LayerPattern().Match(name) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>Marks every parameter not marked yet, waits for all buckets and writes the sums into the gradients.</summary>
    public void Finish()
    {
        _reducer.Finish();
    }

    public void Dispose() => _reducer.Dispose();

    private void MarkLayer(int layer)
    {
        if (_parametersOfLayer.TryGetValue(layer, out var indices))
        {
            foreach (int index in indices)
            {
                _reducer.MarkReady(index);
            }
        }
    }

    [GeneratedRegex(@"(?:^|\.)layers\.(\d+)\.")]
    private static partial Regex LayerPattern();
}
