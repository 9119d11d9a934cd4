// Precise RoI Pooling, CPU backend for ops/prroi_pool.py (same definition as the pure backend).
//
// The feature map is extended by bilinear interpolation with zeros outside, f(x,y) = sum_ij F[i,j] k(x-j) k(y-i)
// with the tent k(t) = max(0, 1-|t|). A bin [x0,x1]x[y0,y1] integrates separably:
//   I = sum_i wy_i sum_j wx_j F[i,j],  wx_j = K(x1-j) - K(x0-j),  K = antiderivative of the tent,
// and the output is I / area. Only the cells touching the bin are visited, so there is no cancellation.
// Backward: dF[i,j] += g wy_i wx_j / area (parallel over channels, no races); box gradients use the
// edge line integrals dI/dx1 = sum_i wy_i f(x1, i) and dI/dx0 = -sum_i wy_i f(x0, i) plus the area term.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

inline double tent_integral(double t) {
  if (t <= -1.0) return 0.0;
  if (t <= 0.0) return 0.5 * (t + 1.0) * (t + 1.0);
  if (t <= 1.0) return 1.0 - 0.5 * (1.0 - t) * (1.0 - t);
  return 1.0;
}

inline double tent(double t) {
  const double a = 1.0 - std::fabs(t);
  return a > 0.0 ? a : 0.0;
}

struct AxisBin {
  double a0 = 0, a1 = 0;   // bin edges (feature coordinates)
  int64_t lo = 0, hi = -1; // inclusive pixel range with non-zero weight
  std::vector<double> w;   // w[p - lo]
};

struct RoiGeom {
  int64_t b = 0;
  double X0 = 0, Y0 = 0, bw = 0, bh = 0;
  std::vector<AxisBin> xs, ys;
};

void make_axis(double start, double size, int64_t nbins, int64_t n, std::vector<AxisBin>& out) {
  out.resize(nbins);
  for (int64_t q = 0; q < nbins; ++q) {
    AxisBin& ab = out[q];
    ab.a0 = start + size * q;
    ab.a1 = start + size * (q + 1);
    ab.lo = std::max<int64_t>(0, (int64_t)std::floor(ab.a0));
    ab.hi = std::min<int64_t>(n - 1, (int64_t)std::ceil(ab.a1));
    ab.w.clear();
    for (int64_t p = ab.lo; p <= ab.hi; ++p) ab.w.push_back(tent_integral(ab.a1 - p) - tent_integral(ab.a0 - p));
  }
}

template <typename scalar_t>
std::vector<RoiGeom> geometry(const scalar_t* rois, int64_t K, int64_t ph, int64_t pw, double scale, int64_t H, int64_t W) {
  std::vector<RoiGeom> g(K);
  at::parallel_for(0, K, 16, [&](int64_t s, int64_t e) {
    for (int64_t k = s; k < e; ++k) {
      const scalar_t* r = rois + 5 * k;
      RoiGeom& G = g[k];
      G.b = (int64_t)std::llround((double)r[0]);
      G.X0 = (double)r[1] * scale;
      G.Y0 = (double)r[2] * scale;
      G.bw = std::max(0.0, (double)r[3] * scale - G.X0) / pw;
      G.bh = std::max(0.0, (double)r[4] * scale - G.Y0) / ph;
      make_axis(G.X0, G.bw, pw, W, G.xs);
      make_axis(G.Y0, G.bh, ph, H, G.ys);
    }
  });
  return g;
}

// f evaluated on the vertical line x = xe, integrated over rows with weights ay.w.
template <typename scalar_t>
inline double edge_x(const scalar_t* F, int64_t H, int64_t W, double xe, const AxisBin& ay) {
  const int64_t j0 = (int64_t)std::floor(xe);
  double acc = 0.0;
  for (int64_t i = ay.lo; i <= ay.hi; ++i) {
    double v = 0.0;
    for (int64_t j = j0; j <= j0 + 1; ++j)
      if (j >= 0 && j < W) v += tent(xe - j) * (double)F[i * W + j];
    acc += ay.w[i - ay.lo] * v;
  }
  return acc;
}

template <typename scalar_t>
inline double edge_y(const scalar_t* F, int64_t H, int64_t W, double ye, const AxisBin& ax) {
  const int64_t i0 = (int64_t)std::floor(ye);
  double acc = 0.0;
  for (int64_t j = ax.lo; j <= ax.hi; ++j) {
    double v = 0.0;
    for (int64_t i = i0; i <= i0 + 1; ++i)
      if (i >= 0 && i < H) v += tent(ye - i) * (double)F[i * W + j];
    acc += ax.w[j - ax.lo] * v;
  }
  return acc;
}

void check(const torch::Tensor& f, const torch::Tensor& r) {
  TORCH_CHECK(f.device().is_cpu() && r.device().is_cpu(), "prroi_pool (compiled): CPU tensors only");
  TORCH_CHECK(f.dim() == 4 && f.is_contiguous(), "prroi_pool (compiled): features must be contiguous (B,C,H,W)");
  TORCH_CHECK(r.dim() == 2 && r.size(1) == 5 && r.is_contiguous(), "prroi_pool (compiled): rois must be contiguous (K,5)");
  TORCH_CHECK(f.scalar_type() == r.scalar_type(), "prroi_pool (compiled): features and rois must share a dtype");
}

}  // namespace

torch::Tensor prroi_forward(torch::Tensor features, torch::Tensor rois, int64_t ph, int64_t pw, double scale) {
  check(features, rois);
  const int64_t B = features.size(0), C = features.size(1), H = features.size(2), W = features.size(3);
  const int64_t K = rois.size(0);
  auto out = torch::zeros({K, C, ph, pw}, features.options());
  AT_DISPATCH_FLOATING_TYPES(features.scalar_type(), "prroi_forward", [&] {
    const scalar_t* F = features.data_ptr<scalar_t>();
    scalar_t* O = out.data_ptr<scalar_t>();
    auto geo = geometry(rois.data_ptr<scalar_t>(), K, ph, pw, scale, H, W);
    at::parallel_for(0, K * C, 1, [&](int64_t s, int64_t e) {
      for (int64_t kc = s; kc < e; ++kc) {
        const int64_t k = kc / C, c = kc % C;
        const RoiGeom& G = geo[k];
        const double area = G.bw * G.bh;
        if (area <= 0.0) continue;
        TORCH_CHECK(G.b >= 0 && G.b < B, "prroi_pool (compiled): roi batch index out of range");
        const scalar_t* Fc = F + (G.b * C + c) * H * W;
        scalar_t* Oc = O + kc * ph * pw;
        // separable: R[j] = sum_i wy_i F[i, j] over the columns any bin touches, then sum_j wx_j R[j]
        const int64_t jlo = G.xs.front().lo, jhi = G.xs.back().hi;
        if (jhi < jlo) continue;
        std::vector<double> R(jhi - jlo + 1);
        for (int64_t p = 0; p < ph; ++p) {
          const AxisBin& ay = G.ys[p];
          std::fill(R.begin(), R.end(), 0.0);
          for (int64_t i = ay.lo; i <= ay.hi; ++i) {
            const double wi = ay.w[i - ay.lo];
            const scalar_t* row = Fc + i * W;
            for (int64_t j = jlo; j <= jhi; ++j) R[j - jlo] += wi * (double)row[j];
          }
          for (int64_t q = 0; q < pw; ++q) {
            const AxisBin& ax = G.xs[q];
            double acc = 0.0;
            for (int64_t j = ax.lo; j <= ax.hi; ++j) acc += ax.w[j - ax.lo] * R[j - jlo];
            Oc[p * pw + q] = (scalar_t)(acc / area);
          }
        }
      }
    });
  });
  return out;
}

std::vector<torch::Tensor> prroi_backward(torch::Tensor grad_out, torch::Tensor features, torch::Tensor rois,
                                          torch::Tensor out, int64_t ph, int64_t pw, double scale,
                                          bool need_features, bool need_rois) {
  check(features, rois);
  const int64_t B = features.size(0), C = features.size(1), H = features.size(2), W = features.size(3);
  const int64_t K = rois.size(0);
  auto grad_f = need_features ? torch::zeros_like(features) : torch::Tensor();
  auto grad_r = need_rois ? torch::zeros_like(rois) : torch::Tensor();
  AT_DISPATCH_FLOATING_TYPES(features.scalar_type(), "prroi_backward", [&] {
    const scalar_t* F = features.data_ptr<scalar_t>();
    const scalar_t* GO = grad_out.data_ptr<scalar_t>();
    const scalar_t* O = out.data_ptr<scalar_t>();
    auto geo = geometry(rois.data_ptr<scalar_t>(), K, ph, pw, scale, H, W);
    if (need_features) {
      scalar_t* GF = grad_f.data_ptr<scalar_t>();
      at::parallel_for(0, C, 1, [&](int64_t s, int64_t e) {
        for (int64_t c = s; c < e; ++c)
          for (int64_t k = 0; k < K; ++k) {
            const RoiGeom& G = geo[k];
            const double area = G.bw * G.bh;
            if (area <= 0.0) continue;
            scalar_t* GFc = GF + (G.b * C + c) * H * W;
            const scalar_t* g = GO + (k * C + c) * ph * pw;
            const int64_t jlo = G.xs.front().lo, jhi = G.xs.back().hi;
            if (jhi < jlo) continue;
            std::vector<double> R(jhi - jlo + 1);
            for (int64_t p = 0; p < ph; ++p) {
              // R[j] = sum_q g[p, q] wx_q[j] / area, then dF[i, j] += wy_p[i] R[j]
              std::fill(R.begin(), R.end(), 0.0);
              bool any = false;
              for (int64_t q = 0; q < pw; ++q) {
                const double gv = (double)g[p * pw + q] / area;
                if (gv == 0.0) continue;
                any = true;
                const AxisBin& ax = G.xs[q];
                for (int64_t j = ax.lo; j <= ax.hi; ++j) R[j - jlo] += gv * ax.w[j - ax.lo];
              }
              if (!any) continue;
              const AxisBin& ay = G.ys[p];
              for (int64_t i = ay.lo; i <= ay.hi; ++i) {
                const double wi = ay.w[i - ay.lo];
                scalar_t* row = GFc + i * W;
                for (int64_t j = jlo; j <= jhi; ++j) row[j] += (scalar_t)(wi * R[j - jlo]);
              }
            }
          }
      });
    }
    if (need_rois) {
      scalar_t* GR = grad_r.data_ptr<scalar_t>();
      at::parallel_for(0, K, 1, [&](int64_t s, int64_t e) {
        for (int64_t k = s; k < e; ++k) {
          const RoiGeom& G = geo[k];
          const double area = G.bw * G.bh;
          if (area <= 0.0) continue;
          double gx0 = 0, gy0 = 0, gx1 = 0, gy1 = 0;
          // edge line integrals per bin: ex[p][e] = sum_i wy_p[i] f(x_e, i) for the pw+1 vertical edges,
          // ey[q][e] = sum_j wx_q[j] f(j, y_e) for the ph+1 horizontal edges (bins share edges).
          std::vector<double> ex(ph * (pw + 1)), ey(pw * (ph + 1));
          for (int64_t c = 0; c < C; ++c) {
            const scalar_t* Fc = F + (G.b * C + c) * H * W;
            const scalar_t* g = GO + (k * C + c) * ph * pw;
            const scalar_t* o = O + (k * C + c) * ph * pw;
            bool any = false;
            for (int64_t t = 0; t < ph * pw && !any; ++t) any = g[t] != 0;
            if (!any) continue;
            for (int64_t p = 0; p < ph; ++p)
              for (int64_t e = 0; e <= pw; ++e)
                ex[p * (pw + 1) + e] = edge_x(Fc, H, W, e < pw ? G.xs[e].a0 : G.xs[pw - 1].a1, G.ys[p]);
            for (int64_t q = 0; q < pw; ++q)
              for (int64_t e = 0; e <= ph; ++e)
                ey[q * (ph + 1) + e] = edge_y(Fc, H, W, e < ph ? G.ys[e].a0 : G.ys[ph - 1].a1, G.xs[q]);
            for (int64_t p = 0; p < ph; ++p)
              for (int64_t q = 0; q < pw; ++q) {
                const double gv = (double)g[p * pw + q];
                if (gv == 0.0) continue;
                const double ov = (double)o[p * pw + q];
                const double dI_dx0 = -ex[p * (pw + 1) + q], dI_dx1 = ex[p * (pw + 1) + q + 1];
                const double dI_dy0 = -ey[q * (ph + 1) + p], dI_dy1 = ey[q * (ph + 1) + p + 1];
                const double qa = (double)q / pw, qb = (double)(q + 1) / pw;
                const double pa = (double)p / ph, pb = (double)(p + 1) / ph;
                gx0 += gv * ((dI_dx0 * (1 - qa) + dI_dx1 * (1 - qb)) / area + ov / (pw * G.bw));
                gx1 += gv * ((dI_dx0 * qa + dI_dx1 * qb) / area - ov / (pw * G.bw));
                gy0 += gv * ((dI_dy0 * (1 - pa) + dI_dy1 * (1 - pb)) / area + ov / (ph * G.bh));
                gy1 += gv * ((dI_dy0 * pa + dI_dy1 * pb) / area - ov / (ph * G.bh));
              }
          }
          GR[5 * k + 1] = (scalar_t)(gx0 * scale);
          GR[5 * k + 2] = (scalar_t)(gy0 * scale);
          GR[5 * k + 3] = (scalar_t)(gx1 * scale);
          GR[5 * k + 4] = (scalar_t)(gy1 * scale);
        }
      });
    }
  });
  return {grad_f, grad_r};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &prroi_forward, "PrRoIPool forward (CPU)");
  m.def("backward", &prroi_backward, "PrRoIPool backward (CPU)");
}
