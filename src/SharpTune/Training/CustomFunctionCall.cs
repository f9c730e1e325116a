using System.Collections.Concurrent;
using System.Reflection;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace SharpTune.Training;

/// <summary>
/// Calls a TorchSharp custom autograd function without the zero-gradient placeholders TorchSharp 0.107 keeps for it.
/// For every call that records a graph node, TorchSharp allocates an uninitialized tensor the size of each output
/// (<c>empty_like</c>), in case backward receives no gradient for that output and has to pass zeros instead
/// ("materialize grads"), and keeps it until the node is freed. For a checkpointed decoder layer that is a second
/// copy of the layer's output for the whole backward pass (1 GiB at Llama-3-8B, 2 x 2048 tokens), and inside the
/// recomputed layer a copy of every fused op's output. SharpTune's functions always receive their output gradient,
/// so they turn materializing off (<see cref="Register"/> in forward) and the placeholders are freed as soon as
/// apply returns (<see cref="Apply"/>).
/// </summary>
public static class CustomFunctionCall
{
    private static readonly FieldInfo? NodeField = typeof(AutogradContext).GetField("_node", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly ConcurrentDictionary<Type, FieldInfo?> CacheFields = new();

    [ThreadStatic]
    private static List<AutogradContext>? t_registered;

    /// <summary>Whether the TorchSharp internals this relies on were found (false: calls still work, placeholders stay).</summary>
    public static bool Supported => NodeField is not null;

    /// <summary>Runs <paramref name="apply"/> (a function's <c>apply</c>) and frees the placeholders of the calls that registered in it.</summary>
    public static Tensor Apply(Func<Tensor> apply)
    {
        var registered = t_registered ??= [];
        int depth = registered.Count;
        try
        {
            var output = apply();
            for (int i = depth; i < registered.Count; i++)
            {
                Release(registered[i]);
            }

            return output;
        }
        finally
        {
            registered.RemoveRange(depth, registered.Count - depth);
        }
    }

    /// <summary>
    /// Called in a function's forward: its backward never gets a missing gradient replaced by zeros (the function
    /// must handle none; SharpTune's outputs always feed the loss), so the placeholders can go.
    /// </summary>
    public static void Register(AutogradContext ctx)
    {
        ctx.set_materialize_grads(false);
        (t_registered ??= []).Add(ctx);
    }

    /// <summary>The number of placeholder tensors a context's node holds (for tests).</summary>
    internal static int PlaceholderCount(AutogradContext ctx) => OutputCache(ctx)?.Count(t => t is not null && !t.IsInvalid) ?? 0;

    private static void Release(AutogradContext ctx)
    {
        if (OutputCache(ctx) is { } cache)
        {
            foreach (var placeholder in cache)
            {
                placeholder?.Dispose();
            }

            cache.Clear();
        }
    }

    private static List<Tensor>? OutputCache(AutogradContext ctx)
    {
        object? node = NodeField?.GetValue(ctx);
        if (node is null)
        {
            return null;
        }

        var field = CacheFields.GetOrAdd(node.GetType(), type => type.GetField("_outputCache", BindingFlags.Instance | BindingFlags.NonPublic));
        return field?.GetValue(node) as List<Tensor>;
    }
}
